-- wrk script: C2B confirmations (or validations) with unique TransIDs.
--
-- Environment (set by bench/run.py):
--   BENCH_TOKENS   file with one "<callback token> <shortcode>" per line; each request picks one
--   BENCH_PAYERS   file with one hashed MSISDN per line (a pool of returning payers)
--   BENCH_RUN      a prefix unique to this run (2-3 characters [A-Z0-9]): TransIDs never repeat
--   BENCH_KIND     "confirmation" (default) or "validation"
--   BENCH_RATE     requests/s for the whole run (0: as fast as the connections go). Pacing is
--                  open-loop per thread: request k of a thread is due at start + k/rate, so
--                  a slow server does not slow the offered rate down (up to the connections).
--
-- done() prints one line "BENCH_JSON {...}" with counts and latency percentiles (µs).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function lines(path)
  local out = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  thread:set("nthreads", 0) -- filled in below once all threads exist
  threads[#threads + 1] = thread
  counter = counter + 1
end

local tokens, shortcodes, payers = {}, {}, {}
local run = os.getenv("BENCH_RUN") or "B"
local kind = os.getenv("BENCH_KIND") or "confirmation"
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local seq = 0
local interval, next_due = 0, 0
local amounts = { "50.00", "100.00", "250.00", "480.00", "1200.00", "5000.00" }
local refs = { "VIP001", "VIP042", "INV-1001", "ACC7", "vip9", "" }

function init(args)
  for _, line in ipairs(lines(os.getenv("BENCH_TOKENS"))) do
    local token, shortcode = line:match("^(%S+)%s+(%S+)$")
    tokens[#tokens + 1] = token
    shortcodes[#shortcodes + 1] = shortcode
  end
  payers = lines(os.getenv("BENCH_PAYERS"))
  math.randomseed(id * 7919 + math.floor(now_ms()))
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  if rate > 0 then
    interval = 1000.0 * n / rate -- each thread carries 1/n of the rate
    next_due = now_ms() + math.random() * interval
  end
end

function delay()
  if rate <= 0 then return 0 end
  local due = next_due
  next_due = next_due + interval
  local wait = due - now_ms()
  if wait < 0 then return 0 end
  return wait
end

function request()
  seq = seq + 1
  local i = math.random(#tokens)
  local payer = payers[math.random(#payers)]
  local trans_id = string.format("%s%X%06X", run, id, seq)
  local body = '{"TransactionType":"Pay Bill","TransID":"' .. trans_id ..
      '","TransTime":"20261126093015","TransAmount":"' .. amounts[math.random(#amounts)] ..
      '","BusinessShortCode":"' .. shortcodes[i] .. '","BillRefNumber":"' ..
      refs[math.random(#refs)] .. '","InvoiceNumber":"","OrgAccountBalance":"",' ..
      '"ThirdPartyTransID":"","MSISDN":"' .. payer ..
      '","FirstName":"Wanjiku","MiddleName":"","LastName":"Otieno"}'
  return wrk.format("POST", "/hooks/" .. tokens[i] .. "/c2b/" .. kind,
    { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
