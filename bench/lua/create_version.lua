-- POST /api/images/<id>/versions, the id drawn at random from 1..<images>, with a version
-- string no other request of any run ever used: <run>-<thread>-<n>.
-- Arguments: run, images
require "report"

-- wrk also calls request() once before any init(), to check it: hence the defaults.
local images, prefix = 1, "check"
local sent = 0

function init(args)
   prefix = args[1] .. "-" .. thread_id
   images = tonumber(args[2])
   math.randomseed(thread_id)
end

function request()
   sent = sent + 1
   local body = string.format(
      '{"version": "bench-%s-%d", "size": "12.5GB", "pythonVersion": "3.11", "cudaVersion": "12.4", ' ..
      '"description": "压测创建的版本"}', prefix, sent)
   return wrk.format("POST", "/api/images/" .. math.random(images) .. "/versions", nil, body)
end
