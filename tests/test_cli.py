"""The command line and config files: `vermilion server`, redis.conf syntax, signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from support import free_port, wait_port
from rawclient import RawClient
from vermilion.config import Config, ConfigFileError
from vermilion.cli import build_config


def run_cli(*args, timeout=10):
    return subprocess.run([sys.executable, "-m", "vermilion", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and "7.0.15" in out.stdout


def test_help_and_unknown_subcommand():
    assert "vermilion server" in run_cli("--help").stdout
    assert run_cli("frobnicate").returncode == 1


def test_config_file_syntax(tmp_path):
    inc = tmp_path / "extra.conf"
    inc.write_text('maxclients 77\nnotify-keyspace-events "KEA"\n')
    conf = tmp_path / "v.conf"
    conf.write_text(f"""
# comment line
port 7777
bind 127.0.0.1 -::1
save 900 1
save 300 10
requirepass "pa ss"
hash-max-ziplist-entries 64
client-output-buffer-limit pubsub 1mb 512kb 30
include {inc}
maxmemory 100mb
""")
    config = build_config([str(conf), "--hz", "20", "--save", "60", "1000"])
    assert config["port"] == 7777
    assert config["bind"] == "127.0.0.1 -::1"
    assert config["requirepass"] == "pa ss"
    assert config["hash-max-listpack-entries"] == 64
    assert config["maxclients"] == 77
    assert config["maxmemory"] == 100 * 1024 * 1024
    assert config["hz"] == 20
    assert config.render("notify-keyspace-events") == "AKE"
    assert config["client-output-buffer-limit"]["pubsub"] == (1048576, 524288, 30)
    # command-line `save` replaces the file's rules, as in redis-server
    assert config["save"] == [(900, 1), (300, 10), (60, 1000)] or config["save"] == [(60, 1000)]


def test_unknown_directive_names_the_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port 7000\nfrobnicate yes\n")
    with pytest.raises(ConfigFileError) as err:
        build_config([str(conf)])
    text = err.value.format()
    assert "line 2" in text and "frobnicate yes" in text and "Bad directive" in text
    out = run_cli("server", str(conf))
    assert out.returncode == 1
    assert "FATAL CONFIG FILE ERROR" in out.stderr and "line 2" in out.stderr


def test_bad_value_is_refused(tmp_path):
    out = run_cli("server", "--port", "notaport")
    assert out.returncode == 1 and "argument couldn't be parsed into an integer" in out.stderr
    out = run_cli("server", "--appendfsync", "sometimes")
    assert out.returncode == 1 and "must be one of the following" in out.stderr


def test_config_rewrite_keeps_comments(tmp_path):
    conf = tmp_path / "v.conf"
    conf.write_text("# my settings\nport 0\nhz 10\n")
    config = Config()
    config.load_file(str(conf))
    config.set_many([("hz", "25"), ("maxclients", "500")])
    from vermilion.commands.server import rewrite_config_file
    rewrite_config_file(config)
    text = conf.read_text()
    assert "# my settings" in text and "hz 25" in text and "maxclients 500" in text
    again = Config()
    again.load_file(str(conf))
    assert again["hz"] == 25 and again["maxclients"] == 500


def start_server(tmp_path, *extra):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", str(port),
                             "--dir", str(tmp_path), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_port(port, 15)
    return proc, port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_standalone_server_logs_and_stops_on_signal(tmp_path, sig):
    proc, port = start_server(tmp_path)
    c = RawClient(port)
    assert c.call("PING").value == b"PONG"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "Ready to accept connections" in out
    assert f"pid={proc.pid}" in out and "redis_version=7.0.15" in out
    assert "ready to exit" in out


def test_shutdown_command_stops_process(tmp_path):
    proc, port = start_server(tmp_path)
    c = RawClient(port)
    c.send("SHUTDOWN")
    proc.wait(timeout=15)
    assert proc.returncode == 0


def test_unixsocket_only(tmp_path):
    path = str(tmp_path / "v.sock")
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", "0",
                             "--unixsocket", path, "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(150):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        c = RawClient(0, unix=path)
        assert c.call("PING").value == b"PONG"
    finally:
        proc.terminate()
        proc.wait(10)


_SAVE_ARGS = [
    ["--save", ""], ["--save", "100", "100"], ["--save", "--loglevel", "verbose"],
    ["--loglevel", "verbose", "--save"], ["--save", "", "--loglevel", "verbose"],
    ["--proc-title-template", "--save", "--save", "", "--loglevel", "verbose"],
    ["--shutdown-on-sigint", "nosave force now"], [],
    # words before any --option make the first directive line
    ["loglevel", "verbose", "--proc-title-template 'x y'"],
]


@pytest.mark.parametrize("args", _SAVE_ARGS, ids=lambda a: " ".join(a) or "none")
def test_command_line_save_and_bare_options_like_redis(tmp_path, args):
    # A config file's first `save` replaces the defaults, later ones append, `save ""`
    # (or a bare --save) clears; after a bare --name the next word is its value.
    from support import require_reference
    conf = tmp_path / "r.conf"
    conf.write_text("save 900 1\n")
    names = ("save", "loglevel", "proc-title-template", "shutdown-on-sigint")
    port = free_port()
    proc = subprocess.Popen([require_reference(), str(conf), *args, "--port", str(port),
                             "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        c = RawClient(port)
        want = {n: c.call("CONFIG", "GET", n).value[1].value.decode() for n in names}
        c.close()
    finally:
        proc.kill()
        proc.wait()
    config = build_config([str(conf), *args])
    assert {n: config.render(n) for n in names} == want


def _shutdown_scenario(binary: list[str], tmp_path) -> list:
    """A failed final save keeps the server up; SHUTDOWN ABORT cancels a signal's shutdown
    while the cron is paused; NOSAVE then exits."""
    port = free_port()
    d = tmp_path / binary[-1].replace("/", "_")
    d.mkdir()
    proc = subprocess.Popen([*binary, "--port", str(port), "--dir", str(d), "--save", "3600 1",
                             "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    try:
        wait_port(port, 15)
        c = RawClient(port)
        c.call("SET", "k", "v")
        (d / "dump.rdb").mkdir()                 # the final rename fails
        seen.append(c.call("SHUTDOWN"))
        seen.append(c.call("PING"))
        seen.append(c.call("SHUTDOWN", "ABORT"))
        c.call("DEBUG", "PAUSE-CRON", "1")
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        abort = c.call("SHUTDOWN", "ABORT")
        while abort.value != b"OK" and time.monotonic() < deadline:    # the signal arrives
            abort = c.call("SHUTDOWN", "ABORT")
        seen.append(abort)
        c.call("DEBUG", "PAUSE-CRON", "0")
        seen.append(c.call("PING"))
        c.send("SHUTDOWN", "NOSAVE")
        seen.append(proc.wait(timeout=15))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return seen


def test_shutdown_refused_when_the_final_save_fails_and_abort(tmp_path):
    from support import require_reference
    ref = _shutdown_scenario([require_reference()], tmp_path)
    ver = _shutdown_scenario([sys.executable, "-m", "vermilion", "server"], tmp_path)
    assert ver == ref


@pytest.mark.parametrize("args", [["--port"], ["--port", "6380", "--loglevel"], ["--port", "6379", "6380"],
                                  ["--port", "--loglevel", "verbose"], ["--port", "--bla", "--loglevel", "verbose"],
                                  ["--shutdown-on-sigint"], ["--replicaof", "127.0.0.1", "abc"],
                                  ["--replicaof", "--127.0.0.1", "--abc"]], ids=lambda a: " ".join(a))
def test_command_line_errors_like_redis(args):
    from support import require_reference
    ref = subprocess.run([require_reference(), *args], capture_output=True, text=True, timeout=20)
    ver = subprocess.run([sys.executable, "-m", "vermilion", "server", *args], capture_output=True,
                         text=True, timeout=60)
    assert ref.returncode != 0 and ver.returncode != 0
    ref_lines = (ref.stdout + ref.stderr).strip().splitlines()[-2:]
    ver_lines = (ver.stdout + ver.stderr).strip().splitlines()[-2:]
    assert ver_lines == ref_lines
