-- Replays a request stream made by bench/workload.py: each thread reads its own file,
-- <prefix>-<thread>.txt, and sends its lines in order, starting over at the end (the report
-- says so). A line is "METHOD PATH" or "METHOD PATH BODY"; a POST without a body creates a
-- version named bench-<run>-<thread>-<n>, which no other request of any run ever used
-- (<run> is drawn afresh for every wrk invocation). Requests with a body carry
-- Content-Type: application/json.
-- Arguments: run, prefix
require "report"

-- Read by report.lua when the run ends: requests made, and times the stream started over.
stream_sent, stream_wraps = 0, 0

-- wrk calls request() once to check it before it sends anything: hence the defaults.
local methods, paths, bodies = {}, {}, {}
local run, versions, position = "check", 0, 0
local json_headers = nil
local VERSION_BODY = '{"version": "bench-%s-%d", "size": "12.5GB", "pythonVersion": "3.11", ' ..
   '"cudaVersion": "12.4", "architectures": ["amd64"], "description": "压测创建的版本"}'

function init(args)
   run = args[1] .. "-" .. thread_id
   local path = args[2] .. "-" .. thread_id .. ".txt"
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      local method, target, body = line:match("^(%u+) (%S+) ?(.*)$")
      table.insert(methods, method)
      table.insert(paths, target)
      table.insert(bodies, body)
   end
   file:close()
   assert(#paths > 0, path .. " holds no request")
   json_headers = {}
   for name, value in pairs(wrk.headers) do
      json_headers[name] = value
   end
   json_headers["Content-Type"] = "application/json"
end

function request()
   if #paths == 0 then
      return wrk.format()
   end
   position = position + 1
   if position > #paths then
      position, stream_wraps = 1, stream_wraps + 1
   end
   stream_sent = stream_sent + 1
   local method = methods[position]
   if method == "GET" then
      return wrk.format("GET", paths[position])
   end
   local body = bodies[position]
   if body == "" then
      versions = versions + 1
      body = string.format(VERSION_BODY, run, versions)
   end
   return wrk.format(method, paths[position], json_headers, body)
end
