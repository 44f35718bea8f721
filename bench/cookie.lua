-- wrk script: GET the path with a session cookie taken in turn from a file of cookie
-- pairs (name=value, one per line), as me.lua does with bearer tokens.
-- usage: wrk ... -s bench/cookie.lua URL -- COOKIES_FILE
local requests = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", nil, { ["Cookie"] = line })
  end
  n = math.random(#requests)
end

function request()
  n = n % #requests + 1
  return requests[n]
end
