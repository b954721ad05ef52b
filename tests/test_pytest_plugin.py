"""The pytest plugin, run the way users run it: in a fresh pytest session through
pytester (in this process, except the xdist run, which needs its own workers)."""

import socket
import textwrap

import pytest
import redis.asyncio  # noqa: F401
import vermilion

from support import RedisProcess, require_reference

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def server_modules_imported_outside_the_runs():
    """pytester drops the modules an inline run imported when it ends. A server's modules
    are imported lazily (the command families when the first engine is made, persistence
    and scripting with it), and a second copy of them would declare every command again in
    the command table that stays. Starting one server here, before any inline run, makes
    them part of this process for good, whatever ran before in this worker."""
    with vermilion.embedded():
        pass


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    """The runs below are a user's pytest, not one of this suite's xdist workers: the
    plugin would otherwise take this worker's id and give the run another port and db."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)

BASIC = """
    import asyncio
    import pytest

    def test_sync(vermilion_client, vermilion_server):
        assert vermilion_client.incr("hits") == 1
        assert vermilion_client.dbsize() == 1
        open("port-sync.txt", "w").write(str(vermilion_server.port))

    def test_emptied_between_tests(vermilion_client):
        assert vermilion_client.dbsize() == 0

    @pytest.mark.asyncio
    async def test_async(vermilion_async_client, vermilion_server):
        assert await vermilion_async_client.set("k", "v")
        assert await vermilion_async_client.get("k") == b"v"
        open("port-async.txt", "w").write(str(vermilion_server.port))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fixtures_sync_and_async(pytester):
    pytester.makepyfile(BASIC)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    port = (pytester.path / "port-sync.txt").read_text()
    assert port == (pytester.path / "port-async.txt").read_text() and int(port) > 0


def test_port_and_config_options_and_ini_keys(pytester):
    conf = pytester.path / "vermilion.conf"
    conf.write_text("maxclients 77\nnotify-keyspace-events KEA\n")

    def expect(port):
        pytester.makepyfile(test_it=f"""
            def test_it(vermilion_server, vermilion_client):
                assert vermilion_server.port == {port}
                assert vermilion_client.config_get("maxclients")["maxclients"] == "77"
        """)

    port = _free_port()
    expect(port)
    result = pytester.runpytest(f"--vermilion-port={port}", f"--vermilion-config={conf}",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    port = _free_port()
    expect(port)
    pytester.makeini(f"""
        [pytest]
        vermilion_port = {port}
        vermilion_config = {conf}
    """)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "--vermilion-url" in pytester.runpytest("--help").stdout.str()


def test_url_option_runs_the_same_tests_against_real_redis(pytester):
    redis_server = RedisProcess(require_reference())
    try:
        url = f"redis://127.0.0.1:{redis_server.port}/3"
        pytester.makepyfile(BASIC + f"""
    def test_it_is_real_redis(vermilion_server, vermilion_client):
        assert vermilion_server.port == {redis_server.port} and vermilion_server.db == 3
        assert "redis_git_sha1" in vermilion_client.info("server")  # a redis-server field
        assert vermilion_client.client_info()["db"] == 3
""")
        import redis
        other = redis.Redis(port=redis_server.port)
        other.set("outside", "1")  # in db 0: FLUSHDB of db 3 leaves it alone
        result = pytester.runpytest(f"--vermilion-url={url}", "-p", "no:randomly")
        result.assert_outcomes(passed=4)
        assert other.get("outside") == b"1"
        other.close()
    finally:
        redis_server.stop()


def test_server_factory(pytester):
    pytester.makepyfile("""
        from vermilion.pytest_plugin import vermilion_server_factory

        node_a = vermilion_server_factory(scope="module")
        node_b = vermilion_server_factory(config={"maxclients": 50}, scope="function")
        durable = vermilion_server_factory(persistence=True)

        def test_three_servers(node_a, node_b, vermilion_server):
            ports = {node_a.port, node_b.port, vermilion_server.port}
            assert len(ports) == 3
            assert node_b.client().config_get("maxclients")["maxclients"] == "50"
            assert node_a.client().config_get("maxclients")["maxclients"] == "10000"

        def test_persistence(durable):
            assert durable.client().config_get("appendonly")["appendonly"] == "yes"
    """)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_xdist_gives_each_worker_its_own_server(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(**{f"test_w{i}": f"""
        import os

        def test_w{i}(vermilion_server, vermilion_client):
            assert vermilion_client.dbsize() == 0
            vermilion_client.set("mine", "{i}")
            worker = os.environ["PYTEST_XDIST_WORKER"]
            open(f"w{i}-{{worker}}.txt", "w").write(str(vermilion_server.port))
    """ for i in range(4)})
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    ports = {}
    for f in pytester.path.glob("w*-gw*.txt"):
        ports.setdefault(f.stem.split("-")[1], set()).add(f.read_text())
    assert len(ports) == 2  # both workers ran tests...
    assert all(len(p) == 1 for p in ports.values())  # ...each on its one server...
    assert len(set.union(*ports.values())) == 2  # ...and the servers differ


async def test_embedded_server_async_with():
    import vermilion
    async with vermilion.embedded() as server:
        client = server.async_client()
        assert await client.ping() and server.port > 0
        await client.aclose()
    assert server._thread is None  # stopped on exit
