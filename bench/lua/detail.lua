-- GET /api/images/<id>, the id drawn at random from 1..<images>.
-- Arguments: images
require "report"

-- wrk also calls request() once before any init(), to check it: hence the defaults.
local images = 1

function init(args)
   images = tonumber(args[1])
   math.randomseed(thread_id)
end

function request()
   return wrk.format("GET", "/api/images/" .. math.random(images))
end
