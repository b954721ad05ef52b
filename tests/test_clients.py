"""Cross-client smoke tests: redis-cli, redis-py (sync and asyncio), node-redis, ioredis."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from support import IN_CI

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")


def node_ready() -> bool:
    ok = shutil.which("node") and os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis"))
    if not ok and IN_CI:
        pytest.fail("node and tests/node/node_modules are required in CI (scripts/test installs them)")
    return bool(ok)


def run_seed(port: int) -> dict:
    out = subprocess.run(["node", os.path.join(NODE_DIR, "seed.js"), f"redis://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=60)
    results = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["section"]] = row
    assert results, out.stderr
    return results


@pytest.fixture(scope="module")
def seed_on_redis(reference_server):
    if not node_ready():
        pytest.skip("node / node_modules missing")
    return run_seed(reference_server.port)


SECTIONS = ["basics", "pubsub", "streams", "lock", "ratelimit", "session", "leaderboard"]


@pytest.mark.parametrize("section", SECTIONS)
def test_node_redis_seed_examples(section, seed_on_redis, vermilion_process_server):
    # The script itself must pass against real Redis, then against Vermilion.
    assert seed_on_redis[section]["ok"], seed_on_redis[section].get("error")
    result = run_seed_section(vermilion_process_server.port, section)
    assert result["ok"], result.get("error")


def run_seed_section(port: int, section: str) -> dict:
    out = subprocess.run(["node", os.path.join(NODE_DIR, "seed.js"), f"redis://127.0.0.1:{port}", section],
                         capture_output=True, text=True, timeout=60)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {"ok": False, "error": out.stderr[-2000:]}


def test_ioredis_basics(vermilion_process_server):
    if not node_ready():
        pytest.skip("node / node_modules missing")
    script = """
const Redis = require('ioredis');
const r = new Redis(+process.argv[1]);
(async () => {
  await r.set('io:k', 'v');
  const v = await r.get('io:k');
  const p = await r.pipeline().set('io:a', '1').incr('io:a').get('io:a').exec();
  console.log(JSON.stringify({v, p}));
  r.disconnect();
})().catch(e => { console.error(e); process.exit(1); });
"""
    out = subprocess.run(["node", "-e", script, str(vermilion_process_server.port)],
                         capture_output=True, text=True, timeout=30, cwd=NODE_DIR)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data == {"v": "v", "p": [[None, "OK"], [None, 2], [None, "2"]]}


def test_redis_cli_pipe_and_commands(vermilion_process_server, reference_server):
    cli = shutil.which("redis-cli")
    if cli is None:
        if IN_CI:
            pytest.fail("redis-cli is required in CI")
        pytest.skip("redis-cli missing")
    port = str(vermilion_process_server.port)
    script = "DEL cli:a\nSET cli:a 1\nINCR cli:a\nGET cli:a\nECHO \"two words\"\nFOO\n"
    outputs = [subprocess.run([cli, "-p", str(p)], input=script, capture_output=True, text=True,
                              timeout=20).stdout for p in (reference_server.port, port)]
    assert outputs[1] == outputs[0]
    assert outputs[1].splitlines()[1:5] == ["OK", "2", "2", "two words"]
    mass = "".join(f"SET cli:{i} {i}\n" for i in range(1000))
    out = subprocess.run([cli, "-p", port, "--pipe"], input=mass, capture_output=True, text=True, timeout=20)
    assert "errors: 0, replies: 1000" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([cli, "-p", port, "--raw", "DBSIZE"], capture_output=True, text=True, timeout=20)
    assert int(out.stdout) >= 1000


def test_redis_cli_interactive_session(vermilion_process_server):
    """redis-cli in interactive mode (what a person sees), driven through a pty."""
    import pty
    import select
    import time
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli missing")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(cli, [cli, "-p", str(vermilion_process_server.port)])
    output = b""

    def read_for(seconds):
        nonlocal output
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return
                output += chunk
                # linenoise asks the terminal for the cursor position; answer like one.
                for _ in range(chunk.count(b"\x1b[6n")):
                    os.write(fd, b"\x1b[1;1R")

    try:
        read_for(0.5)
        os.write(fd, b"SET greeting hello\r")
        read_for(0.5)
        os.write(fd, b"GET greeting\r")
        read_for(0.5)
        os.write(fd, b"quit\r")
        read_for(0.3)
    finally:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
        os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert "OK" in text and '"hello"' in text, text


def test_redis_py_sync_and_pipeline(vermilion_client):
    r = vermilion_client
    assert r.ping() is True
    assert r.set("py:k", "v") is True
    assert r.get("py:k") == b"v"
    pipe = r.pipeline(transaction=False)
    pipe.set("py:n", 1).incr("py:n").get("py:n")
    assert pipe.execute() == [True, 2, b"2"]


async def test_redis_py_asyncio(vermilion_server):
    r = vermilion_server.async_client(protocol=3)
    try:
        assert await r.ping() is True
        await r.set("aio:k", "v")
        assert await r.get("aio:k") == b"v"
    finally:
        await r.aclose()


def _own_query_buffer_fields(port: int):
    from support import connect
    c = connect(port)
    out = []
    own_id = str(c.call("CLIENT", "ID").value)
    for cmd in (("CLIENT", "INFO"), ("CLIENT", "LIST", "ID", own_id)):
        line = c.call(*cmd).value.decode().strip()
        fields = dict(f.split("=", 1) for f in line.split(" "))
        # The two servers number their clients differently: leave the ID's own digits out.
        extra = len(own_id) if "ID" in cmd else 0
        out.append((int(fields["qbuf"]) - extra, int(fields["argv-mem"]) - extra, fields["cmd"]))
    c.close()
    return out


def test_client_info_counts_the_running_request_in_qbuf(ports):
    # Redis still holds the request being run in the query buffer and its arguments in argv.
    from support import same_on_both
    same_on_both(ports, _own_query_buffer_fields)
