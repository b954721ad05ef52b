"""The Prometheus endpoint (metrics-port): redis_exporter's names, with the values INFO
and XINFO report, parsed back with prometheus_client's own parser."""
from __future__ import annotations

import time
import urllib.request

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
pytest.importorskip("aiohttp")

import redis  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import vermilion  # noqa: E402
from vermilion.config import ConfigError  # noqa: E402


def scrape(server) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    with urllib.request.urlopen(server.metrics_url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        body = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def server():
    with vermilion.embedded(metrics_port=0) as srv:
        yield srv


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    client.config_set("metrics-streams", "*")
    client.config_set("metrics-streams-max", "100")
    yield client
    client.close()


def make_streams(r):
    """orders: 5 entries; group billing read 3 (1 acked: 2 pending, lag 2) by two
    consumers; group audit created at $ (lag 0). {orders}:dead: 1 dead letter."""
    ids = [r.xadd("orders", {"n": str(i)}, id=f"{1000 + i}-0") for i in range(5)]
    r.xgroup_create("orders", "billing", id="0")
    r.xgroup_create("orders", "audit", id="$")
    r.xreadgroup("billing", "c1", {"orders": ">"}, count=2)
    r.xreadgroup("billing", "c2", {"orders": ">"}, count=1)
    r.xack("orders", "billing", ids[0])
    r.xadd("{orders}:dead", {"id": ids[1].decode(), "stream": "orders", "f:n": "1"})
    return ids


def test_info_numbers_and_names(server, r):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.get("a")
    r.get("missing")
    db2 = server.client(db=2)
    db2.set("x", "y")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    samples = scrape(server)
    info = r.info("all")
    assert value(samples, "redis_up") == 1
    assert value(samples, "redis_connected_clients") == info["connected_clients"]
    assert value(samples, "redis_max_clients") == info["maxclients"]
    assert value(samples, "redis_keyspace_hits_total") == info["keyspace_hits"]
    assert value(samples, "redis_keyspace_misses_total") == info["keyspace_misses"]
    assert value(samples, "redis_commands_processed_total") == info["total_commands_processed"]
    assert value(samples, "redis_commands_total", cmd="set") == info["cmdstat_set"]["calls"]
    assert value(samples, "redis_commands_duration_seconds_total", cmd="set") == \
        pytest.approx(info["cmdstat_set"]["usec"] / 1e6)
    assert value(samples, "redis_commands_total", cmd="config|set") == info["cmdstat_config|set"]["calls"]
    assert value(samples, "redis_errors_total", err="ERR") == info["errorstat_ERR"]["count"]
    assert value(samples, "redis_db_keys", db="db0") == info["db0"]["keys"] == 2
    assert value(samples, "redis_db_keys_expiring", db="db0") == 1
    assert 99 <= value(samples, "redis_db_avg_ttl_seconds", db="db0") <= 100
    assert value(samples, "redis_db_keys", db="db2") == 1
    assert value(samples, "redis_memory_max_bytes") == info["maxmemory"]
    assert value(samples, "redis_memory_used_bytes") == pytest.approx(info["used_memory"], rel=0.05)
    assert value(samples, "redis_aof_enabled") == 0
    assert value(samples, "redis_rdb_last_bgsave_status") == 1      # "ok"
    assert value(samples, "redis_config_maxclients") == info["maxclients"]
    assert value(samples, "redis_start_time_seconds") == pytest.approx(
        time.time() - info["uptime_in_seconds"], abs=3)
    labels = dict(next(k for k in samples if k[0] == "redis_instance_info")[1])
    assert labels["redis_version"] == info["redis_version"]
    assert labels["role"] == "master" and labels["tcp_port"] == str(server.port)
    db2.close()


def test_pubsub_and_slowlog(server, r):
    p = server.client().pubsub()
    p.subscribe("news", "sports")
    p.psubscribe("n*")
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.set("k", "v")
        samples = scrape(server)
        assert value(samples, "redis_pubsub_channels") == 2
        assert value(samples, "redis_pubsub_patterns") == 1
        newest = r.slowlog_get(1)[0]
        assert value(samples, "redis_slowlog_length") >= 1
        assert value(samples, "redis_slowlog_last_id") <= newest["id"]
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        p.close()


def test_stream_metrics_are_xinfo(server, r):
    make_streams(r)
    samples = scrape(server)
    info = r.xinfo_stream("orders")
    s = {"db": "db0", "stream": "orders"}
    assert value(samples, "redis_stream_length", **s) == info["length"] == 5
    assert value(samples, "redis_stream_groups", **s) == 2
    assert value(samples, "redis_stream_entries_added_total", **s) == info["entries-added"]
    assert value(samples, "redis_stream_first_entry_id", **s) == 1000
    assert value(samples, "redis_stream_last_entry_id", **s) == 1004
    assert value(samples, "redis_stream_last_generated_id", **s) == 1004
    assert value(samples, "redis_stream_radix_tree_keys", **s) == info["radix-tree-keys"]
    groups = {g["name"].decode(): g for g in r.xinfo_groups("orders")}
    billing = {**s, "group": "billing"}
    assert value(samples, "redis_stream_group_lag", **billing) == groups["billing"]["lag"] == 2
    assert value(samples, "redis_stream_group_messages_pending", **billing) == groups["billing"]["pending"] == 2
    assert value(samples, "redis_stream_group_consumers", **billing) == 2
    assert value(samples, "redis_stream_group_entries_read", **billing) == groups["billing"]["entries-read"] == 3
    assert value(samples, "redis_stream_group_last_delivered_id", **billing) == 1002
    assert value(samples, "redis_stream_group_lag", db="db0", stream="orders", group="audit") == 0
    consumers = {c["name"].decode(): c for c in r.xinfo_consumers("orders", "billing")}
    c1 = {**billing, "consumer": "c1"}
    assert value(samples, "redis_stream_group_consumer_messages_pending", **c1) == consumers["c1"]["pending"] == 1
    idle = value(samples, "redis_stream_group_consumer_idle_seconds", **c1)
    assert 0 <= idle <= consumers["c1"]["idle"] / 1e3 + 0.001
    assert value(samples, "redis_stream_length", db="db0", stream="{orders}:dead") == 1


def test_stream_selection(server, r):
    make_streams(r)
    r.xadd("other", {"a": "1"})
    r.set("orders-not-a-stream", "x")
    r.config_set("metrics-streams", "orders other")          # literal names
    names = {dict(k[1])["stream"] for k in scrape(server) if k[0] == "redis_stream_length"}
    assert names == {"orders", "other"}
    r.config_set("metrics-streams", "ord*")
    names = {dict(k[1])["stream"] for k in scrape(server) if k[0] == "redis_stream_length"}
    assert names == {"orders"}
    r.config_set("metrics-streams", "*")
    r.config_set("metrics-streams-max", "1")
    assert sum(1 for k in scrape(server) if k[0] == "redis_stream_length") == 1
    r.config_set("metrics-streams", "")
    assert not any(k[0] == "redis_stream_length" for k in scrape(server))


def test_openmetrics_negotiation(server, r):
    request = urllib.request.Request(server.metrics_url,
                                     headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.read().decode().rstrip().endswith("# EOF")


def test_directives(server, r):
    assert r.config_get("metrics-port") == {"metrics-port": str(server.config["metrics-port"])}
    assert "metrics-port" not in r.config_get("*")        # CONFIG GET * lists Redis's directives
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.config_set("metrics-port", "9999")
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.config_set("dashboard-write", "yes")
    from vermilion.cli import build_config
    cfg = build_config(["--metrics-port", "9121", "--metrics-bind", "0.0.0.0",
                        "--dashboard-port", "8080", "--dashboard-write", "yes"])
    assert (cfg["metrics-port"], cfg["metrics-bind"], cfg["dashboard-port"], cfg["dashboard-write"]) == \
        (9121, "0.0.0.0", 8080, True)
    with pytest.raises(ConfigError):
        vermilion.config.Config().set_from_text("metrics-port", "70000")


def test_busy_metrics_port_stops_the_start(server):
    taken = server.config["metrics-port"]
    with pytest.raises(RuntimeError, match="Could not create server TCP listening socket"):
        vermilion.embedded(metrics_port=taken).start()


def test_scrape_at_10000_keys_and_100_streams(server, r):
    """A scrape at the issue's size: every group exported, and the scrape's loop time
    recorded. What that time is belongs to the benchmark figures (docs/dashboard.md), not
    to a test: a timing threshold here would fail on a busy machine."""
    pipe = r.pipeline(transaction=False)
    for i in range(9_900):
        pipe.set(f"key:{i}", "v", ex=1000 + i)
    for i in range(100):
        pipe.xadd(f"stream:{i}", {"f": "v"})
        pipe.xgroup_create(f"stream:{i}", "g", id="0")
        pipe.xreadgroup("g", "c", {f"stream:{i}": ">"})
    pipe.execute()
    samples = scrape(server)
    assert sum(1 for k in samples if k[0] == "redis_stream_group_lag") == 100
    assert value(samples, "redis_db_keys", db="db0") == 10_000
    collector = server._server.observe.collector
    collector.last_scrape_seconds = 0.0
    server.call_in_loop(collector.snapshot)
    assert collector.last_scrape_seconds > 0
