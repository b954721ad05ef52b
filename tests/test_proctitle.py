"""The standalone server's process title (proc-title-template, set-proc-title), compared
with a real redis-server 7.0: /proc/PID/cmdline through start, CONFIG SET of the
template (valid and refused) and a change of port.

Each server is started through a launcher path of its own, `.../NAME/server`: Redis's
{title} is the path it was executed by, Vermilion's the script that runs it. Each
server's own paths and ports are masked before the comparison.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from rawclient import RawClient
from support import free_port, require_reference, wait_port

if not os.environ.get("CI"):         # CI installs the test extra: missing there is a failure
    pytest.importorskip("setproctitle")

TEMPLATE = "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}"


def _title(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().split(b"\0")[0].decode()


def _launcher(tmp_path, name: str) -> str:
    """`.../name/server`: a link to redis-server, or a script that runs Vermilion."""
    folder = tmp_path / name
    folder.mkdir()
    path = str(folder / "server")
    if name == "redis":
        os.symlink(require_reference(), path)
    else:
        with open(path, "w") as fh:
            fh.write(f"#!{sys.executable}\n"
                     "import sys\n"
                     "sys.path.pop(0)\n"
                     "sys.argv[1:1] = ['server']\n"
                     "from vermilion.cli import console_main\n"
                     "console_main()\n")
        os.chmod(path, 0o755)
    return path


def _scenario(tmp_path, name: str):
    launcher = _launcher(tmp_path, name)
    conf = tmp_path / name / "r.conf"
    conf.write_text(f'proc-title-template "{TEMPLATE}"\n')
    sock = str(tmp_path / name / "s.sock")
    port, port2 = free_port(), free_port()
    proc = subprocess.Popen([launcher, str(conf), "--port", str(port), "--bind", "127.0.0.1",
                             "--unixsocket", sock, "--save", "", "--dir", str(tmp_path / name)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def masked(title: str) -> str:
        return (title.replace(launcher, "<title>").replace(str(conf), "<conf>")
                .replace(sock, "<sock>").replace(str(port2), "<port2>").replace(str(port), "<port>"))

    try:
        wait_port(port)
        c = RawClient(port)
        out = [masked(_title(proc.pid))]
        for template in ("{title} {listen-addr} {server-mode}", "{invalid-var}", "{title",
                         "  {server-mode}  ", "x {{ {port} }} y", "   lead and trail   ",
                         "{port} " + "long" * 80):
            out.append(c.call("CONFIG", "SET", "proc-title-template", template))
            out.append(masked(_title(proc.pid)))
        out.append(c.call("CONFIG", "SET", "proc-title-template", "{listen-addr} {port}"))
        out.append(c.call("CONFIG", "SET", "port", str(port2)))
        c.close()
        wait_port(port2)
        c = RawClient(port2)
        out.append(masked(_title(proc.pid)))
        out.append(c.call("CONFIG", "GET", "proc-title-template"))
        out.append(c.call("CONFIG", "SET", "set-proc-title", "no"))
        c.close()
        return out
    finally:
        proc.kill()
        proc.wait()


def test_process_title_as_redis():
    # A short folder: a title longer than 255 bytes is cut, and this one should not be.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="title-"))
    try:
        expected = _scenario(tmp_path, "redis")
        got = _scenario(tmp_path, "vermilion")
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert got == expected
    assert expected[0] == "TEST <title> 127.0.0.1:<port> <port> 0 <sock> <conf>"


def test_without_setproctitle_the_template_is_refused(tmp_path):
    """No setproctitle package: a notice at start, and CONFIG SET of the template is
    refused as Redis refuses one it cannot apply (never accepted and ignored)."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "setproctitle.py").write_text("raise ImportError('blocked for the test')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vermilion", "server", "--port", str(port),
                             "--save", "", "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        wait_port(port)
        c = RawClient(port)
        reply = c.call("CONFIG", "SET", "proc-title-template", "{title} {port}")
        assert reply.kind == "-" and reply.value == (
            b"ERR CONFIG SET failed (possibly related to argument 'proc-title-template') - "
            b"failed to set process title")
        assert c.call("CONFIG", "GET", "proc-title-template").value[1].value == \
            b"{title} {listen-addr} {server-mode}"
        c.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "setproctitle package is not installed" in out
