-- PUT /api/images/<id>/status, the id drawn at random from 1..<images>, the status flipping
-- between online and offline from one request to the next.
-- Arguments: images
require "report"

-- wrk also calls request() once before any init(), to check it: hence the defaults.
local images = 1
local sent = 0
local flips = {"online", "offline"}

function init(args)
   images = tonumber(args[1])
   math.randomseed(thread_id)
end

function request()
   sent = sent + 1
   local body = '{"status": "' .. flips[sent % 2 + 1] .. '"}'
   return wrk.format("PUT", "/api/images/" .. math.random(images) .. "/status", nil, body)
end
