"""The HTTP listeners of a running server: `metrics-port` and `dashboard-port`.

Both are aiohttp applications served on the server's own event loop, bound like
`bind` (`metrics-bind`, `dashboard-bind`: addresses separated by spaces, `*` for
all, a leading `-` for one that may be missing). They start after the server
listens and stop before it closes.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("vermilion")

MISSING_EXTRA = ("{what} needs the optional dependencies of vermilion[dashboard] "
                 "(pip install 'vermilion[dashboard]'): {err}")


class Endpoints:
    """The metrics and dashboard listeners of one server (`server.observe`)."""

    def __init__(self, server):
        self.server = server
        self.runners: list = []
        self.metrics_port = 0
        self.dashboard_port = 0
        self.collector = None
        self.dashboard = None

    async def start(self) -> None:
        cfg = self.server.config
        try:
            if cfg["metrics-port"]:
                await self._start_metrics(cfg["metrics-port"], cfg["metrics-bind"])
            if cfg["dashboard-port"]:
                await self._start_dashboard(cfg["dashboard-port"], cfg["dashboard-bind"],
                                            cfg["dashboard-write"])
        except BaseException:
            await self.stop()
            raise

    async def _serve(self, app, port: int, bind: str) -> int:
        from aiohttp import web
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self.runners.append(runner)
        for sock in self.server.bind_tcp(port, bind):
            site = web.SockSite(runner, sock)
            await site.start()
        return port

    async def _start_metrics(self, port: int, bind: str) -> None:
        try:
            from aiohttp import web
            from .metrics import EngineCollector, exposition
        except ImportError as err:
            raise OSError(MISSING_EXTRA.format(what="metrics-port", err=err)) from None
        collector = self.collector = EngineCollector(self.server.engine)

        async def metrics(request):
            snapshot = collector.snapshot()
            body, content_type = await asyncio.get_running_loop().run_in_executor(
                None, exposition, collector, snapshot, request.headers.get("Accept"))
            return web.Response(body=body, headers={"Content-Type": content_type})

        async def index(request):
            return web.Response(text='<a href="/metrics">/metrics</a>\n', content_type="text/html")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/", index)
        self.metrics_port = await self._serve(app, port, bind)
        log.log(25, "Prometheus metrics on port %d (/metrics)", port)

    async def _start_dashboard(self, port: int, bind: str, write: bool) -> None:
        try:
            from ..dashboard.app import Dashboard, create_app
        except ImportError as err:
            raise OSError(MISSING_EXTRA.format(what="dashboard-port", err=err)) from None
        server = self.server
        if server.unix_path:
            url = f"unix://{server.unix_path}"
        elif server.port:
            host = _local_address(server.config["bind"])
            url = f"redis://{host}:{server.port}/0"
        else:
            raise OSError("dashboard-port needs the server to listen on a plain TCP port or a "
                          "unix socket (it is a client of the server)")
        self.dashboard = Dashboard(url, write=write, local_engine=server.engine)
        app = create_app(self.dashboard, bind=bind)
        self.dashboard_port = await self._serve(app, port, bind)
        log.log(25, "Dashboard on http://%s:%d/%s", bind.split()[0].lstrip("-"), port,
                " (write actions enabled)" if write else "")

    async def stop(self) -> None:
        if self.dashboard is not None:
            await self.dashboard.close()
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


def _local_address(bind: str) -> str:
    """The address the in-process dashboard connects to: loopback when bound there."""
    hosts = [h.lstrip("-") for h in bind.split()] or ["127.0.0.1"]
    for h in hosts:
        if h in ("127.0.0.1", "*", "0.0.0.0", "localhost"):
            return "127.0.0.1"
        if h in ("::1", "::"):
            return "[::1]"
    return hosts[0]


async def start(server) -> Endpoints | None:
    """Start the configured listeners of `server` (None when neither port is set)."""
    cfg = server.config
    if not cfg["metrics-port"] and not cfg["dashboard-port"]:
        return None
    endpoints = Endpoints(server)
    await endpoints.start()
    return endpoints
