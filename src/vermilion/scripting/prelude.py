"""The Lua side of the scripting environment, run once per Lua state.

PRELUDE is a chunk called with a table of Python callbacks (`py`) and a mode
("eval" or "function"). It builds Redis 7.0's sandbox on a stock Lua 5.1:

* Globals: only what Redis exposes (base library minus print/dofile/loadfile/
  require/module/setfenv/getfenv/newproxy, plus string, table, math, coroutine,
  redis, cjson, cmsgpack, bit, struct). `os`, `io`, `package` and `debug` are gone.
* Redis 7.0 makes _G and the library tables read-only in its patched Lua VM; stock
  Lua cannot mark tables read-only, so scripts see proxies: an empty table whose
  metatable reads through to the real table and refuses writes with Redis's
  "Attempt to modify a readonly table". rawset/setmetatable/pairs/next/rawget
  know about the proxies, so the difference is not observable in practice.
* Reading a missing global raises "Script attempted to access nonexistent global
  variable 'x'" (the real global table's __index).
* pcall is Redis's: an error table {err=...} is returned as its err string.
* math.random/math.randomseed use Redis's redisLrand48 generator: one sequence for
  the whole server, shared by EVAL and FCALL and never reseeded by Redis 7.0.
* Tail calls in user code are compiled as ordinary calls (see bytecode.py), so
  errors raised in our Lua wrappers report the script's line like Redis's C ones.
* The error handler builds Redis's error table {err=, source=, line=}: source and
  line are those of the innermost user frame (frames of this chunk and C
  functions are skipped, so our Lua wrappers are invisible in messages).
* Errors of redis.call/pcall carry Redis's `ignore_error_stats_update` field: they were
  counted in errorstats when the call failed, so the script's error reply is not.
* `classify` flattens a returned table for the Python converter following
  luaReplyToRedisReply's order: err, ok, double, big_number, verbatim_string,
  map, set, array (stopping at the first nil).

Chunk name "=vermilion" marks our own frames.
"""

PRELUDE = r"""
local py, mode = ...
local REAL = _G
local rawget, rawset, type, error, select, tostring, setmetatable, getmetatable =
      rawget, rawset, type, error, select, tostring, setmetatable, getmetatable
local rawpcall, rawxpcall, rawnext, rawpairs, unpack, ipairs = pcall, xpcall, next, pairs, unpack, ipairs
local rawloadstring, rawload, setfenv, tonumber = loadstring, load, setfenv, tonumber
local getinfo, sethook, getlocal = debug.getinfo, debug.sethook, debug.getlocal
local floor = math.floor

local INTERNAL = "=vermilion"
local RO_ERR = "Attempt to modify a readonly table"

-- The sandbox's globals: a separate table holding what Redis exposes. The real
-- globals table stays untouched (lupa itself uses it, e.g. debug.traceback).
local G = {}
for _, name in ipairs({"assert", "collectgarbage", "error", "gcinfo", "getmetatable", "ipairs",
                       "load", "loadstring", "next", "pairs", "pcall", "rawequal", "rawget",
                       "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
                       "unpack", "xpcall", "_VERSION", "coroutine", "string", "table", "math",
                       "cjson", "cmsgpack", "bit", "struct"}) do
  G[name] = REAL[name]
end

-- Read-only proxies ------------------------------------------------------------------------
local readonly = setmetatable({}, {__mode = "k"})   -- proxy -> real table

local function ro_newindex(t, k, v)
  error(RO_ERR, 2)
end

local function protect(real)
  local proxy = {}
  setmetatable(proxy, {__index = real, __newindex = ro_newindex, __metatable = false})
  readonly[proxy] = real
  return proxy
end

G.rawset = function(t, k, v)
  if readonly[t] or t == G then error(RO_ERR, 0) end
  return rawset(t, k, v)
end
G.rawget = function(t, k)
  local real = readonly[t]
  if real then return rawget(real, k) end
  return rawget(t, k)
end
G.setmetatable = function(t, mt)
  if readonly[t] or t == G then error(RO_ERR, 0) end
  return setmetatable(t, mt)
end
G.next = function(t, k)
  local real = readonly[t]
  if real then return rawnext(real, k) end
  return rawnext(t, k)
end
G.pairs = function(t)
  local real = readonly[t]
  if real then return rawnext, real, nil end
  return rawpairs(t)
end

-- Redis's pcall: an error table comes back as its err string.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == "table" then
    local s = rawget(e, "err")
    if type(s) == "string" or type(s) == "number" then e = s end
  end
  return false, e
end
G.pcall = function(...) return pcall_result(rawpcall(...)) end

-- Redis's PRNG: one redisLrand48 sequence for the whole server (kept in Python),
-- never reseeded between scripts in 7.0.
local py_lrand, py_srand = py.lrand48, py.srand48
local LRAND48_MAX = 2147483647
local function checkint(v, n)
  local x = tonumber(v)
  if x == nil then
    error("bad argument #" .. n .. " to 'random' (number expected, got " ..
          (v == nil and "no value" or type(v)) .. ")", 3)
  end
  local i = x >= 0 and floor(x) or -floor(-x)
  return i
end
local math_random = function(...)
  local r = (py_lrand() % LRAND48_MAX) / LRAND48_MAX
  local n = select("#", ...)
  if n == 0 then return r end
  if n == 1 then
    local u = checkint((...), 1)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = checkint((...), 1), checkint(select(2, ...), 2)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
local math_randomseed = function(seed)
  py_srand(checkint(seed, 1))
end
math.random = math_random
math.randomseed = math_randomseed

-- Error handler: Redis's __redis__err__handler, skipping our frames ----------------------
local function errh(err)
  local level = 2
  local info = getinfo(level, "Sl")
  while info and (info.what == "C" or info.what == "tail" or info.source == INTERNAL) do
    level = level + 1
    info = getinfo(level, "Sl")
  end
  if type(err) ~= "table" then
    err = {err = "ERR " .. tostring(err)}
  end
  if info then
    rawset(err, "source", info.source)
    rawset(err, "line", info.currentline)
  end
  return err
end

-- The redis table ---------------------------------------------------------------------------
local pycall, pycall_packed, pycheck = py.call, py.call_packed, py.check
local redis = {}
-- py.call returns the converted reply, or (text, 1) for an error and (text, 2)
-- for a status: those two tables are built here, where it is cheap.
-- A Python callable takes fewer arguments from Lua than Redis's redis.call (up to
-- Lua's C stack of 8000 slots): long argument lists travel in a table.
local function rcall(...)
  local r, kind
  if select("#", ...) > 256 then
    r, kind = pycall_packed({...}, select("#", ...))
  else
    r, kind = pycall(...)
  end
  if kind then
    if kind == 2 then return {ok = r} end
    -- The error was counted in INFO errorstats where it happened; Redis marks the table
    -- so that the script's own error reply does not count it again.
    error({err = r, ignore_error_stats_update = true})
  end
  return r
end
local function rpcall(...)
  local r, kind
  if select("#", ...) > 256 then
    r, kind = pycall_packed({...}, select("#", ...))
  else
    r, kind = pycall(...)
  end
  if kind then
    if kind == 2 then return {ok = r} end
    return {err = r, ignore_error_stats_update = true}
  end
  return r
end
local function raise_if(r, kind)
  if kind then error({err = r}) end
  return r
end
redis.call = rcall
redis.pcall = rpcall
redis.sha1hex = function(...) return raise_if(py.sha1hex(select("#", ...), ...)) end
redis.error_reply = function(...)
  if select("#", ...) ~= 1 or type((...)) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {err = py.error_text((...))}
end
redis.status_reply = function(...)
  if select("#", ...) ~= 1 or type((...)) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = (...)}
end
redis.log = function(...) return raise_if(py.log(select("#", ...), ...)) end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.setresp = function(...) return raise_if(py.setresp(select("#", ...), ...)) end
redis.set_repl = function(...) return raise_if(py.set_repl(select("#", ...), ...)) end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.acl_check_cmd = function(...) return raise_if(py.acl_check_cmd(...)) end
redis.REDIS_VERSION = py.version
redis.REDIS_VERSION_NUM = py.version_num
if mode == "eval" then
  redis.replicate_commands = function() return true end
  -- Inert outside a debugging session (scripting/debugger.py), as in Redis.
  local ldb_debug, ldb_breakpoint = py.ldb_debug, py.ldb_breakpoint
  redis.breakpoint = function() return ldb_breakpoint() end
  redis.debug = function(...) ldb_debug(select("#", ...), ...) end
end


-- Environment: G is the real global table; user code runs with `env`, a read-only
-- proxy of it, and missing globals raise Redis's error.
setmetatable(G, {
  __index = function(t, n)
    error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
  end,
  __newindex = ro_newindex,
  __metatable = false,
})
local envmt = {__index = G, __newindex = ro_newindex, __metatable = {}}
local env = setmetatable({}, envmt)
readonly[env] = G
rawset(G, "_G", env)
rawset(G, "redis", protect(redis))
for _, name in ipairs({"string", "table", "math", "coroutine", "cjson", "cmsgpack", "bit", "struct"}) do
  local lib = rawget(G, name)
  if lib then rawset(G, name, protect(lib)) end
end
-- Strings share one metatable; scripts see a read-only stand-in for it (its __index
-- is the read-only string library), so no script can alter string methods.
local string_mt = getmetatable("")
string_mt.__metatable = protect({__index = rawget(G, "string")})
envmt.__metatable = protect({})
if mode == "eval" then rawset(G, "__redis__err__handler", errh) end

-- Code loaded by scripts runs in the sandbox too.
-- Redis's Lua refuses precompiled chunks (they are parsed as text, which fails on the
-- ESC byte); a leading space makes stock Lua do the same, with the same message.
local byte = string.byte
rawset(G, "loadstring", function(s, name)
  if type(s) == "string" and byte(s, 1) == 27 then
    return rawloadstring(" " .. s, name or s)
  end
  local f, e = rawloadstring(s, name)
  if f then f = rawloadstring(py.untail(string.dump(f))); setfenv(f, env) end
  return f, e
end)
rawset(G, "load", function(fn, name)
  local first = true
  local reader = fn
  if type(fn) == "function" then
    reader = function()
      local piece = fn()
      if first then
        first = false
        if type(piece) == "string" and byte(piece, 1) == 27 then piece = " " .. piece end
      end
      return piece
    end
  end
  local f, e = rawload(reader, name)
  if f then f = rawloadstring(py.untail(string.dump(f))); setfenv(f, env) end
  return f, e
end)

-- Busy-script hook: every 100000 VM instructions ask Python whether the script
-- is past busy-reply-threshold (then it serves other clients) or was killed.
local KILLED = "Script killed by user with SCRIPT KILL..."
local loading = false
local load_library_inner
local hook
hook = function()
  if pycheck() then
    -- Raised on every line from now on, so pcall cannot swallow it for good; only
    -- in user code (level 2 is the running function), never in our own frames.
    sethook(hook, "l")
    local info = getinfo(2, "S")
    if info and info.source ~= INTERNAL and info.what ~= "C" then
      error({err = loading and "ERR FUNCTION LOAD timeout" or "ERR " .. KILLED})
    end
  end
end
local function arm_hook() sethook(hook, "", 100000) end
arm_hook()

-- The Lua debugger (scripting/debugger.py): while a session runs, a line hook hands each
-- line of the script (chunk "@user_script"; not our frames, not code the debugger's eval
-- runs) to Python, which stops there or not. The helpers below look at the innermost
-- frame of the script, wherever Python calls them from.
local USER = "@user_script"
local ldb = {}
if mode == "eval" then
  local ldb_line = py.ldb_line
  local function ldb_hook(event)
    local info = getinfo(2, "Sl")
    if not info or info.source ~= USER then return end
    local err = ldb_line(event == "line", info.currentline)
    if err then error(err, 0) end
  end
  ldb.arm = function(on)
    if on then sethook(ldb_hook, "l", 100000) else arm_hook() end
  end
  -- Locals of the innermost script frame: name, value, name, value ... and their count.
  ldb.locals = function()
    local level = 2
    local info = getinfo(level, "S")
    while info and info.source ~= USER do level = level + 1; info = getinfo(level, "S") end
    local out, n = {}, 0
    if not info then return out, 0 end
    local i = 1
    while true do
      local name, value = getlocal(level, i)
      if not name then break end
      if not name:find("(*temporary)", 1, true) then
        out[n + 1] = name; out[n + 2] = value; n = n + 2
      end
      i = i + 1
    end
    return out, n
  end
  -- A variable of the script: the innermost local of that name, else KEYS or ARGV.
  ldb.getvar = function(want)
    local level = 2
    local info = getinfo(level, "S")
    while info do
      if info.source == USER then
        local i = 1
        while true do
          local name, value = getlocal(level, i)
          if not name then break end
          if name == want then return true, value end
          i = i + 1
        end
      end
      level = level + 1
      info = getinfo(level, "S")
    end
    if want == "KEYS" or want == "ARGV" then return true, rawget(G, want) end
    return false, nil
  end
  -- The script's frames, innermost first: name (false for the top level), line ...
  ldb.trace = function()
    local out, n = {}, 0
    local level = 2
    local info = getinfo(level, "Snl")
    while info do
      if info.source == USER then
        out[n + 1] = info.name or false; out[n + 2] = info.currentline; n = n + 2
      end
      level = level + 1
      info = getinfo(level, "Snl")
    end
    return out, n
  end
  -- Code typed at the debugger: an expression if it reads as one, else a statement.
  ldb.eval = function(code)
    local f = rawloadstring("return " .. code, "@ldb_eval")
    if not f then
      local e
      f, e = rawloadstring(code, "@ldb_eval")
      if not f then return false, e end
    end
    setfenv(f, env)
    local ok, r = rawpcall(f)
    if not ok then
      if type(r) == "table" then r = rawget(r, "err") end
      return false, tostring(r)
    end
    return true, r
  end
  ldb.redis = function(...) return rawpcall(rcall, ...) end
  ldb.type = type
  ldb.tostring = tostring
end

-- Compiling -------------------------------------------------------------------------------------
local untail, dump = py.untail, string.dump
local function compile(body, chunkname)
  local f, e = rawloadstring(body, chunkname)
  if not f then return nil, e end
  f = rawloadstring(untail(dump(f)))
  setfenv(f, env)
  return f
end

-- Results ---------------------------------------------------------------------------------------
local BIG = 4000
local function flat_pairs(t, keys_only)
  local out, n = {}, 0
  for k, v in rawnext, t do
    n = n + 1; out[n] = k
    if not keys_only then n = n + 1; out[n] = v end
  end
  return out, n
end
-- classify always returns at least two values, so Python can tell a tagged shape
-- from a plain number result.
local function classify(t)
  local v = rawget(t, "err")
  if type(v) == "string" then return 1, v, rawget(t, "ignore_error_stats_update") == true end
  v = rawget(t, "ok")
  if type(v) == "string" then return 2, v end
  v = rawget(t, "double")
  if type(v) == "number" then return 3, v end
  v = rawget(t, "big_number")
  if type(v) == "string" then return 4, v end
  v = rawget(t, "verbatim_string")
  if type(v) == "table" then
    local f, s = rawget(v, "format"), rawget(v, "string")
    if type(f) == "string" and type(s) == "string" then return 5, s, f end
  end
  v = rawget(t, "map")
  if type(v) == "table" then
    local out, n = flat_pairs(v, false)
    if n > BIG then return 9, 6, out, n end
    return 6, n, unpack(out, 1, n)
  end
  v = rawget(t, "set")
  if type(v) == "table" then
    local out, n = flat_pairs(v, true)
    if n > BIG then return 9, 7, out, n end
    return 7, n, unpack(out, 1, n)
  end
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  if n > BIG then return 9, 8, t, n end
  return 8, n, unpack(t, 1, n)
end
local function slice(t, i, j) return unpack(t, i, j) end

-- The result of a script, as Python receives it: a string or number as itself;
-- otherwise a tagged tuple (tables are classified here, in the same call).
local function finish(ok, r)
  if ok then
    local t = type(r)
    if t == "string" or t == "number" then return r end
    if t == "table" then return classify(r) end
    if t == "boolean" then return 11, r end
    return 12, nil
  end
  if type(r) == "table" then
    return 0, rawget(r, "err"), rawget(r, "source"), rawget(r, "line"),
           rawget(r, "ignore_error_stats_update") == true
  end
  return 0, tostring(r)
end

local function set_args(nkeys, n, ...)
  if nkeys == 0 then return {}, {...} end
  if nkeys == n then return {...}, {} end
  local keys, argv, all = {}, {}, {...}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, n do argv[i - nkeys] = all[i] end
  return keys, argv
end

local function run_eval(f, nkeys, ...)
  local keys, argv = set_args(nkeys, select("#", ...), ...)
  rawset(G, "KEYS", keys)
  rawset(G, "ARGV", argv)
  return finish(rawxpcall(f, errh))
end

local function run_function(f, nkeys, ...)
  local keys, argv = set_args(nkeys, select("#", ...), ...)
  return finish(rawxpcall(function() return f(keys, argv) end, errh))
end

-- Functions: library loading runs with only the limited redis API visible.
local load_env_mt, load_api
if mode == "function" then
  local load_redis = {
    log = redis.log, LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
    register_function = function(...) return raise_if(py.register_function(select("#", ...), ...)) end,
  }
  setmetatable(load_redis, {
    __index = function(t, n)
      error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
    end,
  })
  load_api = setmetatable({redis = protect(load_redis)}, {
    __index = function(t, n)
      error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
    end,
  })
end

local function load_library(body)
  loading = true
  local status, err = load_library_inner(body)
  loading = false
  return status, err
end

load_library_inner = function(body)
  local f, e = rawloadstring(body, "@user_function")
  if not f then return 1, e end
  f = rawloadstring(untail(dump(f)))
  -- The library shares the runtime environment; while it loads, globals resolve in
  -- the load API instead (Redis switches the same metatable's __index).
  envmt.__index = load_api
  setfenv(f, env)
  local ok, err = rawxpcall(f, errh)
  envmt.__index = G
  if not ok then
    if type(err) == "table" then return 2, rawget(err, "err") end
    return 2, tostring(err)
  end
  return 0
end

return {
  compile = compile, run_eval = run_eval, run_function = run_function, classify = classify,
  slice = slice, arm_hook = arm_hook, load_library = load_library, ldb = ldb,
  mkmap = function(...)
    local t = {}
    for i = 1, select("#", ...), 2 do
      local k, v = select(i, ...)
      t[k] = v
    end
    return t
  end,
  mkset = function(...)
    local t = {}
    for i = 1, select("#", ...) do t[(select(i, ...))] = true end
    return t
  end,
  wrap = function(tag, inner) return {[tag] = inner} end,
  verbatim = function(s, f) return {verbatim_string = {format = f, string = s}} end,
  env = env,
}
"""
