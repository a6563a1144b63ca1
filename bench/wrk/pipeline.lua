-- wrk script: HTTP/1.1 pipelining. Every write sends DEPTH requests back to back and wrk waits
-- for all DEPTH responses before the next write.
--   wrk -s bench/wrk/pipeline.lua http://127.0.0.1:PORT/ -- 16      (depth defaults to 16)
local one = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  batch = string.rep(one, depth)
end

function request()
  return batch
end
