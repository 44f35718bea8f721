-- wrk script: POST /login for users taken in turn from a file of "email password" lines.
-- usage: wrk ... -s bench/login.lua URL/login -- USERS_FILE
local requests = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    local email, password = line:match("^(%S+) (.+)$")
    local body = string.format('{"email":"%s","password":"%s"}', email, password)
    requests[#requests + 1] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
  end
  n = math.random(#requests)
end

function request()
  n = n % #requests + 1
  return requests[n]
end
