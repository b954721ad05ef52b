"""The process title (Redis's redisSetProcTitle): what `ps` and /proc/PID/cmdline show.

The standalone server sets it at start when ``set-proc-title`` is yes, from
``proc-title-template`` (default ``{title} {listen-addr} {server-mode}``), and again
when the template, ``port``, ``tls-port``, ``bind`` or ``unixsocket`` change; a
forked background child takes ``redis-rdb-bgsave`` / ``redis-aof-rewrite`` as its
{title}, as Redis's children do. {title} is the program as started: ``sys.argv[0]``
(``/usr/bin/vermilion``, or the path of a script that runs Vermilion), or ``python -m
vermilion`` for that form.

An embedded server never touches the title: it shares the application's process.

Setting the title needs the ``setproctitle`` package (extra ``proctitle``); without it
the title stays the interpreter's command line, the server logs that once at start,
and CONFIG SET proc-title-template is refused with Redis's "failed to set process
title" (so a template is never accepted and then silently ignored).
"""
from __future__ import annotations

import logging
import sys

from ..config import ApplyError, expand_proc_title

log = logging.getLogger("vermilion")
NOTICE = 25                         # Redis's notice level (server/runtime.py)

try:
    from setproctitle import setproctitle as _set_title
except ImportError:                 # optional: `pip install vermilion[proctitle]`
    _set_title = None

TITLE_MAX = 255
_WATCHED = ("proc-title-template", "port", "tls-port", "bind", "unixsocket")

_config = None
_initial_template = None


def program() -> str:
    """{title}: the program as the user started it."""
    argv = getattr(sys, "orig_argv", None) or sys.argv
    if len(argv) >= 3 and argv[1] == "-m":
        return " ".join(argv[:3])
    return sys.argv[0] if sys.argv and sys.argv[0] else "vermilion"


def variables(config, title: str) -> dict:
    """The values of the template's variables (Redis's redisProcTitleGetVariable)."""
    port, tls_port = config["port"], config["tls-port"]
    binds = config["bind"].split()
    if port or tls_port:
        listen = "%s:%d" % (binds[0] if binds else "*", port or tls_port)
    else:
        listen = "unixsocket:" + config["unixsocket"]
    return {"title": title, "listen-addr": listen,
            "server-mode": "[cluster]" if config["cluster-enabled"] else "",
            "config-file": config.file or "-", "port": str(port), "tls-port": str(tls_port),
            "unixsocket": config["unixsocket"]}


def apply(title: str | None = None) -> bool:
    """Set the title from the template; False if it cannot be set."""
    if _config is None or _set_title is None:
        return False
    text = expand_proc_title(_config["proc-title-template"],
                             variables(_config, program() if title is None else title))
    if text is None:                # not likely: the template was checked when set
        return False
    # Redis's setproctitle keeps the first 255 bytes.
    _set_title(text.encode()[:TITLE_MAX].decode(errors="ignore"))
    return True


def _changed(changed: set) -> None:
    if "proc-title-template" in changed:
        # Redis applies a new template even with set-proc-title no. Without the
        # package only the template the server started with stands (a rolled-back
        # CONFIG SET puts it back).
        if _set_title is None:
            if _config["proc-title-template"] != _initial_template:
                raise ApplyError("proc-title-template", "failed to set process title")
        elif not apply():
            raise ApplyError("proc-title-template", "failed to set process title")
    elif _config["set-proc-title"] and not changed.isdisjoint(_WATCHED):
        apply()


def install(config) -> None:
    """The standalone server: set the title now and whenever what it shows changes."""
    global _config, _initial_template
    _config = config
    _initial_template = config["proc-title-template"]
    config.listeners.append(_changed)
    if _set_title is None:
        log.log(NOTICE if config["set-proc-title"] else logging.INFO,
                "The process title is not set: the setproctitle package is not installed "
                "(pip install 'vermilion[proctitle]')")
        return
    if config["set-proc-title"]:
        apply()


def in_child(title: str) -> None:
    """A forked background child: its {title} says what it does."""
    if _config is not None and _config["set-proc-title"]:
        apply(title)
