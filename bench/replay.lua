-- wrk script of bench/token_endpoint.py: replays pre-generated token requests.
--
--   wrk ... -s replay.lua URL -- <dir> <mode> <path> <filler_path>
--
-- <dir>/proofs.<tid> holds one line per request, "<DPoP proof>\t<form body>",
-- each proof and client assertion signed in advance and used once. Thread
-- <tid> (0-based) reads only its own file, one line per request.
--
-- mode "client_credentials": the form body is the whole request body.
-- mode "refresh": the form body is the client authentication only; the
--   refresh token comes from a queue, first filled from <dir>/tokens.<tid>
--   (grants prepared before the run). The rotated refresh token of every
--   successful response goes back into the queue, so each refresh token is
--   used exactly once.
--
-- When a thread has no line (or no refresh token) left, it sends
-- GET <filler_path> instead and counts it: the run is then invalid and is
-- repeated with more requests. done() writes <dir>/result, <dir>/error and,
-- in refresh mode, the refresh tokens still unused to <dir>/tokens.out.

-- This script's directory holds wrk_results.lua (wrk loads scripts by the path it was given).
local results = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "wrk_results.lua")
setup = results.setup

function init(args)
   dir = args[1]
   mode = args[2]
   path = args[3]
   filler = wrk.format("GET", args[4])
   proofs = assert(io.open(dir .. "/proofs." .. tid, "r"))
   ok = 0
   bad = 0
   fillers = 0
   exhausted = 0
   starved = 0
   first_error = nil
   queue = {}
   head = 1
   tail = 0
   if mode == "refresh" then
      for token in io.lines(dir .. "/tokens." .. tid) do
         tail = tail + 1
         queue[tail] = token
      end
   end
end

local FORM = "application/x-www-form-urlencoded"

function request()
   local line = proofs:read("*l")
   if line == nil then
      exhausted = exhausted + 1
      return filler
   end
   local tab = line:find("\t", 1, true)
   local body = line:sub(tab + 1)
   if mode == "refresh" then
      if head > tail then
         starved = starved + 1
         return filler
      end
      local token = queue[head]
      queue[head] = nil
      head = head + 1
      body = "grant_type=refresh_token&refresh_token=" .. token .. "&" .. body
   end
   return wrk.format("POST", path, { ["Content-Type"] = FORM, ["DPoP"] = line:sub(1, tab - 1) }, body)
end

function response(status, headers, body)
   if status == 200 then
      if body:find('"access_token"', 1, true) then
         ok = ok + 1
         if mode == "refresh" then
            local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
            if token then
               tail = tail + 1
               queue[tail] = token
            end
         end
      else
         fillers = fillers + 1
      end
   else
      bad = bad + 1
      if first_error == nil then
         first_error = status .. " " .. body
      end
   end
end

function done(summary, latency, requests)
   local totals, first_error = results.totals({ "ok", "bad", "fillers", "exhausted", "starved" })
   local tokens = assert(io.open(results.path("tokens.out"), "w"))
   for _, thread in ipairs(results.threads) do
      for _, token in pairs(thread:get("queue") or {}) do
         tokens:write(token, "\n")
      end
   end
   tokens:close()
   results.write(summary, latency, totals, first_error)
end
