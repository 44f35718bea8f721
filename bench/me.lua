-- wrk script: GET the path with a bearer token taken in turn from a file of tokens
-- (one per line), so requests spread over every seeded session. Requests are built
-- once in init, so the load generator spends its time sending, not formatting.
-- With a second argument `cookie`, each line is a cookie pair (name=value) sent as the
-- Cookie header instead (the actix-session peer's sessions).
-- usage: wrk ... -s bench/me.lua URL -- TOKENS_FILE [cookie]
local requests = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    local headers = { ["Authorization"] = "Bearer " .. line }
    if args[2] == "cookie" then headers = { ["Cookie"] = line } end
    requests[#requests + 1] = wrk.format("GET", nil, headers)
  end
  -- each wrk thread starts at another place in the list
  n = math.random(#requests)
end

function request()
  n = n % #requests + 1
  return requests[n]
end
