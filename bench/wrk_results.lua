-- Shared by the wrk scripts of bench/ (replay.lua, routed_calls.lua):
-- numbering the threads, and what done() writes for the Python side.
--
--   local results = dofile(<this file>)
--   setup = results.setup
--   function done(summary, latency, requests)
--      local totals, first_error = results.totals(<names of the threads' counters>)
--      results.write(summary, latency, totals, first_error)
--   end
--
-- write() puts "name value" lines in $BENCH_RUN_DIR/result (wrk's summary,
-- latency percentiles and the totals) and the first error in
-- $BENCH_RUN_DIR/error: done() runs in wrk's main Lua state, where no
-- thread's init() ran, so the directory comes from the environment.

local results = { threads = {} }

function results.setup(thread)
   thread:set("tid", #results.threads)
   table.insert(results.threads, thread)
end

function results.path(name)
   return os.getenv("BENCH_RUN_DIR") .. "/" .. name
end

-- The sum over the threads of each counter in names, and the first thread's first_error.
function results.totals(names)
   local totals = {}
   local first_error = nil
   for _, name in ipairs(names) do
      totals[name] = 0
   end
   for _, thread in ipairs(results.threads) do
      for _, name in ipairs(names) do
         totals[name] = totals[name] + (thread:get(name) or 0)
      end
      first_error = first_error or thread:get("first_error")
   end
   return totals, first_error
end

function results.write(summary, latency, totals, first_error)
   local out = assert(io.open(results.path("result"), "w"))
   out:write("duration_us ", summary.duration, "\n")
   out:write("requests ", summary.requests, "\n")
   for _, kind in ipairs({ "connect", "read", "write", "timeout", "status" }) do
      out:write("errors_", kind, " ", summary.errors[kind], "\n")
   end
   for name, value in pairs(totals) do
      out:write(name, " ", value, "\n")
   end
   out:write("latency_p50_us ", latency:percentile(50.0), "\n")
   out:write("latency_p99_us ", latency:percentile(99.0), "\n")
   out:write("latency_mean_us ", latency.mean, "\n")
   out:write("latency_max_us ", latency.max, "\n")
   out:close()
   if first_error ~= nil then
      local err = assert(io.open(results.path("error"), "w"))
      err:write(first_error)
      err:close()
   end
end

return results
