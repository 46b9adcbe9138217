-- POST /api/images with a name and imageId no other request of any run ever used:
-- <run>-<thread>-<n>, where <run> is drawn afresh for every wrk invocation.
-- Arguments: run
require "report"

-- wrk also calls request() once before any init(), to check it: hence the default.
local prefix = "check"
local sent = 0

function init(args)
   prefix = args[1] .. "-" .. thread_id
end

function request()
   sent = sent + 1
   local tag = prefix .. "-" .. sent
   local body = string.format(
      '{"name": "压测镜像 PyTorch 2.5.1 CUDA 12.4 %s", "imageId": "bench-%s", ' ..
      '"frameworks": ["PyTorch", "DeepSpeed"], "applicableScopes": ["开发机", "分布式训练"], ' ..
      '"chipType": "GPU", "presetCuda": true, "type": "custom", ' ..
      '"description": "压测创建的镜像：PyTorch 2.5.1，CUDA 12.4，Python 3.11。", ' ..
      '"imageAddress": "registry.example.com/bench/pytorch:2.5.1-cu124-%s"}', tag, tag, tag)
   return wrk.format("POST", "/api/images", nil, body)
end
