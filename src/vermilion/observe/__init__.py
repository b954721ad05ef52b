"""Windows into a running server: the Prometheus endpoint (`metrics-port`) and the
web dashboard (`dashboard-port`, or `vermilion dashboard --url ...` for any server).

Both need the optional extra ``vermilion[dashboard]`` (aiohttp, prometheus_client).
The metrics collector reads the engine's numbers directly (the same functions INFO
and XINFO use) on the server's event loop, and is served from a thread of its own;
the dashboard, served on the server's loop, is a redis.asyncio client of the server,
so it works unchanged against real Redis.
"""
