-- wrk script of bench/national_reads.py: the public read mix, timed per kind.
--
-- Run with as many threads as connections (-tN -cN): each thread's Lua state then drives a
-- single connection, so request() and response() strictly alternate and the time between
-- them (CLOCK_MONOTONIC through LuaJIT's FFI, taken where wrk starts and stops its own
-- latency clock) is that request's latency; wrk itself only reports the mix as a whole.
--
-- Environment (wrk passes nothing else to the main state, where done() runs):
--   REGSYNC_WRK_QUERIES  the query file bench/national_reads.py writes, tab-separated:
--                          "@weight <kind> <weight>"   share of the mix
--                          "@lookup <province> <count>" lookups draw cert_no uniformly over
--                                                      records 0..count-1 of each province
--                          "<kind> <method> <path> <body>" one prepared request
--   REGSYNC_WRK_THREADS  the thread count; thread i loads every i-th prepared request of a kind
--   REGSYNC_WRK_OUT      where done() writes the summary and every thread's samples

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long sec; long nsec; } regsync_timespec;
int clock_gettime(int clock_id, regsync_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("regsync_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000000 + math.floor(tonumber(ts.nsec) / 1000)
end

local function split_tabs(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    out[#out + 1] = field
  end
  return out
end

-- main state: one entry per thread, for done()
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

-- thread states
kinds = {}              -- kind names in mix order (read by done())
local cum = {}          -- cumulative weights, same order
local total_weight = 0
local prepared = {}     -- kind -> list of request strings
local lookup_codes = {} -- province codes
local lookup_cum = {}   -- cumulative record counts
local lookup_total = 0
local current = nil     -- position of the kind of the request in flight
local started_us = 0
-- One entry per answered request, read by done(). Flat arrays of numbers: wrk 4.1.0's
-- thread:get() crashes on nested tables.
samples_us = {}         -- latency in microseconds
samples_tag = {}        -- kind position * 1000 + HTTP status

local function check_prepared()
  for _, kind in ipairs(kinds) do
    if kind ~= "lookup" then
      assert(#prepared[kind] > 0, "no prepared request of kind " .. kind .. " for this thread")
    end
  end
end

function init(args)
  local nthreads = tonumber(os.getenv("REGSYNC_WRK_THREADS")) or 1
  local mine = (id - 1) % nthreads
  math.randomseed(7919 * id)
  local seen = {} -- kind -> prepared requests read so far: each thread gets every kind
  for line in io.lines(os.getenv("REGSYNC_WRK_QUERIES")) do
    local f = split_tabs(line)
    if f[1] == "@weight" then
      total_weight = total_weight + tonumber(f[3])
      kinds[#kinds + 1] = f[2]
      cum[#cum + 1] = total_weight
      prepared[f[2]] = prepared[f[2]] or {}
    elseif f[1] == "@lookup" then
      lookup_total = lookup_total + tonumber(f[3])
      lookup_codes[#lookup_codes + 1] = f[2]
      lookup_cum[#lookup_cum + 1] = lookup_total
    else
      local n = (seen[f[1]] or 0)
      seen[f[1]] = n + 1
      if n % nthreads == mine then
        local headers = nil
        local body = nil
        if f[4] ~= nil and f[4] ~= "" then
          headers = { ["Content-Type"] = "application/json" }
          body = f[4]
        end
        local list = prepared[f[1]]
        list[#list + 1] = wrk.format(f[2], f[3], headers, body)
      end
    end
  end
  check_prepared()
end

local function lookup_request()
  local r = math.random(lookup_total) -- 1..total
  local i = 1
  while lookup_cum[i] < r do
    i = i + 1
  end
  local before = (i > 1) and lookup_cum[i - 1] or 0
  -- cert_no = province, seed 0 as three digits, record index as ten (province_node.synthetic)
  local cert_no = string.format("%s000%010d", lookup_codes[i], r - before - 1)
  return wrk.format("GET", "/v1/physicians/" .. cert_no)
end

function request()
  local r = math.random() * total_weight
  local k = #kinds
  for i = 1, #kinds do
    if r < cum[i] then
      k = i
      break
    end
  end
  local kind = kinds[k]
  current = k
  local req
  if kind == "lookup" then
    req = lookup_request()
  else
    local list = prepared[kind]
    req = list[math.random(#list)]
  end
  started_us = now_us()
  return req
end

function response(status, headers, body)
  if current == nil then
    return
  end
  local n = #samples_us + 1
  samples_us[n] = now_us() - started_us
  samples_tag[n] = current * 1000 + status
  current = nil
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("REGSYNC_WRK_OUT"), "w"))
  local e = summary.errors
  out:write(string.format("summary %d %d %d %d %d %d %d %d\n", summary.duration,
    summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    out:write(string.format("latency %g %d\n", p, latency:percentile(p)))
  end
  out:write(string.format("latency_max %d\n", latency.max))
  for i, kind in ipairs(threads[1]:get("kinds")) do
    out:write(string.format("kind %d %s\n", i, kind))
  end
  for _, thread in ipairs(threads) do
    local us = thread:get("samples_us")
    local tags = thread:get("samples_tag")
    for i = 1, #us do
      out:write(string.format("s %d %d\n", tags[i], us[i]))
    end
  end
  out:close()
end
