-- wrk script: POST /logout, each seeded session once: thread k of N takes tokens
-- k+1, k+1+N, ... of the file (one token a line), so no two requests end one session.
-- usage: wrk -t2 ... -s bench/logout.lua URL/logout -- TOKENS_FILE
local threads = 0
local requests = {}
local n = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
  thread:set("count", 0)
end

function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    if i % 2 == id then
      requests[#requests + 1] = wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. line })
    end
    i = i + 1
  end
end

function request()
  n = n + 1
  if n > #requests then
    -- Out of sessions: the leg was longer than the file; these answer 401 (counted
    -- as errors, so a short file shows).
    n = 1
  end
  return requests[n]
end
