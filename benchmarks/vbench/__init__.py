"""Support package for benchmarks/run.py (Vermilion vs Redis benchmark driver).

Stdlib only, plus redis-py for a few scenarios.  Modules:

- resp      minimal RESP2 encoder/parser and a raw socket connection used for fast preloads
- servers   starting/stopping redis-server and the Vermilion server on free ports
- model     entry types (redis-benchmark tests, Python scenarios), targets, measurements
- loaders   setup helpers (preload keys, sorted sets, streams, scripts)
- scenarios custom Python scenarios (fan-out, consumer groups, MULTI/EXEC, memory, load time)
- suites    the suite registry
- runner    the alternating runner, result aggregation, table and JSON output
"""
