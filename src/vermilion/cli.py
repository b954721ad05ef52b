"""Command line: ``vermilion server [config-file] [--config FILE] [--name value ...]``.

Like redis-server, every redis.conf directive can be given as ``--name value``
(several words allowed: ``--save 60 1000``) or in a config file; command-line
directives are applied after the file.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

from . import REDIS_VERSION, __version__

USAGE = """\
Usage: vermilion server [/path/to/redis.conf] [--config FILE] [--port 6379] [--bind ADDR]
                        [--unixsocket PATH] [--dir DIR] [--NAME VALUE ...]
       vermilion worker module:handler --stream S --group G [--concurrency N] [--url URL]
       vermilion dashboard [--url redis://host:6379] [--port 8080] [--bind ADDR] [--write yes]
       vermilion --version
       vermilion --help

Any redis.conf directive can be given as --name value, e.g.
       vermilion server --port 7777 --appendonly yes --save "60 1000"
and Vermilion's own, e.g. --metrics-port 9121 --dashboard-port 8080 (docs/dashboard.md).
"""


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "vermilion")


def build_config(argv: list[str]):
    from .config import Config, ConfigError, ConfigFileError, parse_argv_directives

    config = Config()
    config.values["dir"] = default_data_dir()
    args = list(argv)
    files = []
    if args and not args[0].startswith("--"):
        files.append(args.pop(0))
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--config" and i + 1 < len(args):
            files.append(args[i + 1])
            i += 2
            continue
        rest.append(args[i])
        i += 1
    for path in files:
        try:
            config.load_file(path)
        except OSError as err:
            raise ConfigFileError(0, path, f"Fatal error, can't open config file '{path}': {err.strerror}")
    try:
        lines = parse_argv_directives(rest)
    except ConfigError as err:
        raise ConfigFileError(0, " ".join(rest), str(err)) from None
    config.load_text(lines)
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else 1
    if argv[0] in ("-v", "--version", "version"):
        print(f"Vermilion v={__version__} (redis {REDIS_VERSION} compatible)")
        return 0
    if argv[0] == "worker":
        from .patterns.worker_cli import main as worker_main
        return worker_main(argv[1:])
    if argv[0] == "dashboard":
        from .dashboard.cli import main as dashboard_main
        return dashboard_main(argv[1:])
    if argv[0] != "server":
        print(f"Unknown command '{argv[0]}'.\n\n{USAGE}", end="", file=sys.stderr)
        return 1
    from .config import ConfigFileError
    try:
        config = build_config(argv[1:])
    except ConfigFileError as err:
        print(err.format(), file=sys.stderr)
        return 1
    os.makedirs(config["dir"], exist_ok=True)
    from .server.runtime import run
    return run(config)


def console_main() -> None:
    """The process entry point (`vermilion`, `python -m vermilion`).

    Once the server has stopped, its files are closed and no other thread runs, the
    process leaves without the interpreter's teardown of every module and object
    (a few hundred ms that a test harness starting hundreds of servers waits for each
    time); Redis too simply exits."""
    rc = main()
    # A profiler or tracer (cProfile, coverage) writes its results at the normal exit.
    if threading.active_count() == 1 and sys.getprofile() is None and sys.gettrace() is None:
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(rc or 0)
    sys.exit(rc)


if __name__ == "__main__":
    console_main()
