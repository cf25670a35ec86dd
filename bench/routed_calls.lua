-- wrk script of bench/proxy.py: replays pre-signed GET requests, each used once.
--
--   wrk ... -s routed_calls.lua URL -- <dir> <filler_path> <mode>
--
-- <dir>/requests.<tid> holds one line per request of thread <tid> (0-based):
-- "<path>\t<header>: <value>\t<header>: <value>...", its DPoP proof (or bank
-- assertion) signed in advance for this one request.
--
-- An answer carrying x-fapi-interaction-id is an answer to a routed call
-- (the proxy and the banks echo it on every answer, refusals included): 200
-- counts as ok, anything else as bad (the first bad body is kept). When a
-- thread has no line left it sends GET <filler_path> (a cheap 200 without
-- that header) and counts it.
--
-- mode "bounded": a run of wrk's -d seconds; a filler makes the run invalid
--   (bench/proxy.py repeats it with more requests).
-- mode "replay": once every line of a thread is answered, the thread writes
--   <dir>/done.<tid> and stops; bench/proxy.py ends wrk (SIGINT) when every
--   thread is done. A call lost on a broken connection is never answered
--   (wrk reconnects and goes on): a thread whose lines are all sent stops
--   waiting GIVE_UP seconds after its last answer, and the calls it sent
--   without an answer are counted (bench/proxy.py counts them as errors).
--
-- done() writes <dir>/result ("name value" lines) and <dir>/error (bench/wrk_results.lua).

-- This script's directory holds wrk_results.lua (wrk loads scripts by the path it was given).
local results = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "wrk_results.lua")
setup = results.setup
local GIVE_UP = 15

function init(args)
   dir = args[1]
   filler = wrk.format("GET", args[2])
   mode = args[3]
   lines = assert(io.open(dir .. "/requests." .. tid, "r"))
   sent = 0
   answered = 0
   ok = 0
   bad = 0
   fillers = 0
   exhausted = 0
   finished = 0
   last_answer = os.time()
   first_error = nil
   -- wrk calls thread 0's request() once before the run, only to parse what it returns
   -- (script_verify_request): that call gets the filler, so that no line is lost to it.
   verified = tid ~= 0
end

function request()
   if not verified then
      verified = true
      return filler
   end
   if exhausted == 0 then
      local line = lines:read("*l")
      if line ~= nil then
         local path = nil
         local headers = {}
         for field in string.gmatch(line, "[^\t]+") do
            if path == nil then
               path = field
            else
               local name, value = string.match(field, "^([^:]+): (.*)$")
               headers[name] = value
            end
         end
         sent = sent + 1
         return wrk.format("GET", path, headers)
      end
      exhausted = 1
   end
   fillers = fillers + 1
   return filler
end

local function finish()
   finished = 1
   local marker = io.open(dir .. "/done." .. tid, "w")
   marker:write(sent .. " " .. answered .. "\n")
   marker:close()
   wrk.thread:stop()
end

function response(status, headers, body)
   if headers["x-fapi-interaction-id"] == nil and headers["X-Fapi-Interaction-Id"] == nil then
      if mode == "replay" and exhausted == 1 and finished == 0 and os.time() - last_answer >= GIVE_UP then
         finish()
      end
      return
   end
   answered = answered + 1
   last_answer = os.time()
   if status == 200 then
      ok = ok + 1
   else
      bad = bad + 1
      if first_error == nil then
         first_error = status .. " " .. body
      end
   end
   if mode == "replay" and exhausted == 1 and answered == sent and finished == 0 then
      finish()
   end
end

function done(summary, latency, requests)
   local totals, first_error = results.totals({ "sent", "answered", "ok", "bad", "fillers", "exhausted" })
   results.write(summary, latency, totals, first_error)
end
