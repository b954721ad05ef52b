"""Windows into a running server: the Prometheus endpoint (`metrics-port`) and the
web dashboard (`dashboard-port`, or `vermilion dashboard --url ...` for any server).

Both need the optional extra ``vermilion[dashboard]`` (aiohttp, prometheus_client).
They are served on the server's own event loop: the metrics collector reads the
engine's numbers directly (the same functions INFO and XINFO use), the dashboard is
a redis.asyncio client of the server, so it works unchanged against real Redis.
"""
