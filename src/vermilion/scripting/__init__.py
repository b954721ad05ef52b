"""Lua scripting (issue #5): EVAL scripts and FUNCTION libraries on lupa's Lua 5.1.

    runtime.py    one sandboxed Lua state, and the Redis <-> Lua reply conversions
    prelude.py    the Lua side of the sandbox and of the redis.* API
    scripts.py    per-engine state: script cache, libraries, run context, redis.* callbacks
    functions.py  FUNCTION LOAD: library metadata and redis.register_function
    busy.py       serving other clients while a script runs past busy-reply-threshold
    libs/         bit, struct, cjson, cmsgpack as Redis bundles them
"""
