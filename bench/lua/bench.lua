-- wrk script for the benchmark: wrk ... -s bench.lua URL -- MODE ARGS...
--   create PATH API_KEY BODY      POST BODY with its ORDER_ID replaced by thread-n (unique per run)
--   pay FILE                     GET the paths listed in FILE, one per line, in turn
--   webhook FILE NTHREADS        POST the signed events in FILE ("signature<TAB>body" lines),
--                                each thread its own share, so every event is sent once
-- done() prints one line: BENCHJSON {requests, duration_us, p50_us, p99_us, error counts}.

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local mode, items, n, counter, path, key, template

local function lines(file)
  local out = {}
  for line in io.lines(file) do out[#out + 1] = line end
  return out
end

function init(args)
  mode = args[1]
  counter = 0
  if mode == "create" then
    path, key, template = args[2], args[3], args[4]
  elseif mode == "pay" then
    items = lines(args[2])
  elseif mode == "webhook" then
    local all, nthreads = lines(args[2]), tonumber(args[3])
    items = {}
    for i = tid, #all, nthreads do items[#items + 1] = all[i] end
  end
  n = items and #items or 0
end

function request()
  counter = counter + 1
  if mode == "create" then
    local body = template:gsub("ORDER_ID", string.format("%d-%d", tid, counter))
    local headers = {["Content-Type"] = "application/json"}
    if key ~= "" then headers["Authorization"] = "Bearer " .. key end
    return wrk.format("POST", path, headers, body)
  elseif mode == "pay" then
    return wrk.format("GET", items[(counter + tid) % n + 1])
  else
    local line = items[(counter - 1) % n + 1]
    local tab = line:find("\t", 1, true)
    return wrk.format("POST", "/webhooks/stripe",
      {["Content-Type"] = "application/json", ["Stripe-Signature"] = line:sub(1, tab - 1)}, line:sub(tab + 1))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    e.connect, e.read, e.write, e.status, e.timeout))
end
