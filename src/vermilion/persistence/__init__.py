"""Persistence: the append-only file and RDB snapshots (issue #7).

* ``rdb``         Redis 7.0's RDB format (version 10): files, DUMP payloads, loading
* ``aof``         the multi-part AOF: manifest, writer with fsync policies, loader, rewriter
* ``manager``     per-engine orchestration: startup loading, children (fork), save rules,
                  automatic rewrites, INFO persistence, shutdown
* ``compact``     listpack / ziplist / intset / zipmap encodings
* ``streamcodec`` streams <-> RDB stream listpacks
* ``lzf``, ``crc64``, ``digest`` (DEBUG DIGEST as Redis computes it)

See docs/persistence.md.
"""
