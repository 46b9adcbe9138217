-- Required by every scenario script. When the run ends it prints one line
-- "BENCH_RESULT {json}" that bench/load.py reads.
--
-- With BENCH_COUNT_STATUSES=1 in the environment (the warm-up), each thread also counts its
-- responses by status, so anything but a 2xx (a 3xx too) shows up by its status. Without it
-- (the measured run) there is no response() hook: wrk then skips handing every response to
-- Lua, which on a 2-core machine costs the baseline a third of its requests/s, and reports
-- only its own count of responses with a status of 400 or more.
--
-- Each thread also gets a global thread_id (1, 2, ...) before its init(args) runs; args[0] is
-- the URL and args[1], args[2], ... the arguments given to wrk after "--".

local threads = {}
local counting = os.getenv("BENCH_COUNT_STATUSES") == "1"

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

if counting then
   status_counts = {}

   function response(status, headers, body)
      status_counts[status] = (status_counts[status] or 0) + 1
   end
end

local function counted_statuses()
   local totals = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("status_counts")) do
         totals[status] = (totals[status] or 0) + count
      end
   end
   local fields = {}
   for status, count in pairs(totals) do
      table.insert(fields, string.format('"%d": %d', status, count))
   end
   return "{" .. table.concat(fields, ", ") .. "}"
end

-- What each thread of a stream.lua run made of its stream: [{"sent": n, "wraps": n}, ...],
-- or null for any other script.
local function streams()
   local fields = {}
   for _, thread in ipairs(threads) do
      local sent = thread:get("stream_sent")
      if sent == nil then
         return "null"
      end
      table.insert(fields, string.format('{"sent": %d, "wraps": %d}', sent, thread:get("stream_wraps")))
   end
   return "[" .. table.concat(fields, ", ") .. "]"
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"duration_us": %d, "requests": %d, "statuses": %s, "status_400_or_more": %d, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p99": %d, "mean": %.1f, "max": %d}, "streams": %s}\n',
      summary.duration, summary.requests, counting and counted_statuses() or "null", errors.status,
      errors.connect, errors.read, errors.write, errors.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max, streams()))
end
