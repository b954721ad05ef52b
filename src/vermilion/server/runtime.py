"""Running a server: event loop choice, logging like redis-server, signals, shutdown."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

from .. import REDIS_VERSION, __version__
from ..config import Config
from .. import _native
from ..types.acl import RuleError
from ..engine.engine import Engine
from . import oom_score, proctitle
from .server import Server

log = logging.getLogger("vermilion")

_LEVEL_MARK = {logging.DEBUG: ".", logging.INFO: "-", logging.WARNING: "#", logging.ERROR: "#",
               logging.CRITICAL: "#"}
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
_LEVEL_MARK[NOTICE] = "*"
_LOGLEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": NOTICE,
              "warning": logging.WARNING, "nothing": logging.CRITICAL + 10}


class RedisStyleFormatter(logging.Formatter):
    """`pid:M 26 Nov 2026 05:16:11.123 * message`, as redis-server writes its log."""

    def format(self, record):
        t = time.localtime(record.created)
        stamp = time.strftime("%d %b %Y %H:%M:%S", t) + ".%03d" % record.msecs
        return f"{os.getpid()}:M {stamp} {_LEVEL_MARK.get(record.levelno, '*')} {record.getMessage()}"


def setup_logging(config: Config) -> None:
    handler: logging.Handler
    logfile = config["logfile"]
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedisStyleFormatter())
    log.handlers[:] = [handler]
    log.setLevel(_LOGLEVELS.get(config["loglevel"], NOTICE))
    log.propagate = False


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where available (it is most of our speed), plain asyncio otherwise."""
    try:
        import uvloop
        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


async def serve(config: Config, ready=None, install_signals: bool = True,
                ephemeral_port: bool = False) -> Server:
    """Start a server, report readiness, run until shutdown; returns the stopped server.

    ``ephemeral_port``: listen on a TCP port the kernel picks (embedded mode)."""
    engine = Engine(config)
    server = Server(engine)
    server.ephemeral_port = ephemeral_port
    await server.start()
    announce(config, server)
    server.log_exposed_listeners()
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            try:
                loop.add_signal_handler(sig, _on_signal, server, name)
            except (NotImplementedError, RuntimeError):
                pass
    for hook in engine.startup_hooks:
        await hook(engine)
    if config["metrics-port"] or config["dashboard-port"]:
        from ..observe.endpoints import start as start_endpoints
        try:
            server.observe = await start_endpoints(server)
        except OSError:
            await server.stop()
            raise
    log.log(NOTICE, "Server initialized")
    log.log(NOTICE, "Compiled code: %s", _native.describe())
    if _native.stale:
        log.warning("The compiled modules run as source: the build is older than the source "
                    "of %s (rebuild with `pip install -e .`)", ", ".join(_native.stale))
    if server.port:
        log.log(NOTICE, "Ready to accept connections tcp")
    if server.tls.port:
        log.log(NOTICE, "Ready to accept connections tls")
    if server.unix_path:
        log.log(NOTICE, "Ready to accept connections unix")
    if ready is not None:
        ready(server)
    reason = await server.wait_closed()
    if reason:          # SHUTDOWN and signals have logged theirs already
        log.warning("%s", reason)
    if server.observe is not None:
        await server.observe.stop()
    for hook in engine.shutdown_hooks:
        try:
            await hook(engine)
        except Exception:
            log.exception("shutdown hook failed")
    await server.stop()
    log.warning("Vermilion is now ready to exit, bye bye...")
    return server


def _on_signal(server: Server, name: str) -> None:
    server.signal_received(name)


def banner(config: Config) -> None:
    log.log(NOTICE, "oO0OoO0OoO0Oo Vermilion is starting oO0OoO0OoO0Oo")
    log.log(NOTICE, "Vermilion version=%s, redis_version=%s, bits=64, pid=%d, just started",
            __version__, REDIS_VERSION, os.getpid())
    if config.file:
        log.log(NOTICE, "Configuration loaded from %s", config.file)
    else:
        log.log(NOTICE, "No config file specified, using the default config.")


def announce(config: Config, server: Server) -> None:
    """Once the listeners are bound, as redis-server shows its logo: with
    always-show-logo (or a terminal as the log), a banner with the process id (test
    harnesses wait for " PID: <pid>" to know the server is listening); else one line."""
    port = server.port or server.tls.port
    if config["always-show-logo"] or (not config["logfile"] and not config["syslog-enabled"]
                                      and sys.stdout.isatty()):
        log.log(NOTICE, "Vermilion %s (Redis %s compatible), mode=standalone, port=%d, PID: %d",
                __version__, REDIS_VERSION, port, os.getpid())
    else:
        log.log(NOTICE, "Running mode=standalone, port=%d.", port)


def run(config: Config) -> int:
    setup_logging(config)
    banner(config)
    oom_score.install(config)
    proctitle.install(config)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(config))
    except (OSError, RuleError) as err:
        log.warning("%s", err)
        return 1
    finally:
        loop.close()
    return 0
