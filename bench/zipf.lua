-- wrk script: GET the path with a bearer token drawn from a Zipf distribution over a
-- file of tokens (one per line): the token on line k is chosen with probability
-- proportional to 1 / k^s, so a few sessions are very active and most are rare. The
-- seeder writes tokens of random users, so rank and user are unrelated.
-- usage: wrk ... -s bench/zipf.lua URL -- TOKENS_FILE [S]  (S defaults to 1.0)
local tokens = {}
local cdf = {}
-- Requests for the most drawn ranks are formatted once, as me.lua does for all of its
-- tokens, so that the load generator spends its time sending (a million formatted
-- requests would not fit in LuaJIT's memory; the top 100,000 take about 40 MB).
local formatted = {}
local PREFORMATTED = 100000

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  local s = tonumber(args[2] or "1.0")
  local total = 0
  for k = 1, #tokens do
    total = total + 1 / (k ^ s)
    cdf[k] = total
  end
  for k = 1, #tokens do
    cdf[k] = cdf[k] / total
  end
  for k = 1, math.min(PREFORMATTED, #tokens) do
    formatted[k] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[k] })
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local u = math.random()
  local lo, hi = 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return formatted[lo] or wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[lo] })
end
