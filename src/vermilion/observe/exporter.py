"""redis_exporter's metric names, so its Grafana dashboards work unchanged.

redis_exporter turns INFO fields into metrics through two tables (gauges and
counters), adds per-command, per-error and per-database families, and exports
XINFO numbers for the streams it is told to check. The names and labels below
are that interface; the values come from whatever produced the INFO fields
(the engine itself in `metrics.py`). Everything is prefixed ``redis_``.

A family is described first as a `Spec`, plain values that compare equal while
its samples are the same (the exposition of an unchanged family is not formatted
again, see `metrics.Encoder`), then made into prometheus_client's family by
`metric`, which prometheus_client's writers format.

prometheus_client writes a counter's sample as ``<family>_total``: counters
whose redis_exporter name does not end in ``_total`` (``total_error_replies``)
are exported as gauges, so the sample name a query uses stays the same.
"""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Iterator, NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "redis_"

# INFO field -> metric name (a gauge).
GAUGES = {
    # server
    "uptime_in_seconds": "uptime_in_seconds", "process_id": "process_id",
    "io_threads_active": "io_threads_active",
    # clients
    "connected_clients": "connected_clients", "blocked_clients": "blocked_clients",
    "maxclients": "max_clients", "tracking_clients": "tracking_clients",
    "clients_in_timeout_table": "clients_in_timeout_table",
    "client_recent_max_output_buffer": "client_recent_max_output_buffer_bytes",
    "client_recent_max_input_buffer": "client_recent_max_input_buffer_bytes",
    # memory
    "allocator_active": "allocator_active_bytes", "allocator_allocated": "allocator_allocated_bytes",
    "allocator_resident": "allocator_resident_bytes", "allocator_frag_ratio": "allocator_frag_ratio",
    "allocator_frag_bytes": "allocator_frag_bytes", "allocator_rss_ratio": "allocator_rss_ratio",
    "allocator_rss_bytes": "allocator_rss_bytes",
    "used_memory": "memory_used_bytes", "used_memory_rss": "memory_used_rss_bytes",
    "used_memory_peak": "memory_used_peak_bytes", "used_memory_lua": "memory_used_lua_bytes",
    "used_memory_vm_eval": "memory_used_vm_eval_bytes",
    "used_memory_scripts_eval": "memory_used_scripts_eval_bytes",
    "used_memory_overhead": "memory_used_overhead_bytes",
    "used_memory_startup": "memory_used_startup_bytes",
    "used_memory_dataset": "memory_used_dataset_bytes",
    "number_of_cached_scripts": "number_of_cached_scripts",
    "number_of_functions": "number_of_functions", "number_of_libraries": "number_of_libraries",
    "used_memory_vm_functions": "memory_used_vm_functions_bytes",
    "used_memory_scripts": "memory_used_scripts_bytes",
    "used_memory_functions": "memory_used_functions_bytes",
    "used_memory_vm_total": "memory_used_vm_total", "maxmemory": "memory_max_bytes",
    "mem_fragmentation_ratio": "mem_fragmentation_ratio",
    "mem_fragmentation_bytes": "mem_fragmentation_bytes",
    "mem_clients_slaves": "mem_clients_slaves", "mem_clients_normal": "mem_clients_normal",
    "mem_cluster_links": "mem_cluster_links_bytes", "mem_aof_buffer": "mem_aof_buffer_bytes",
    "mem_replication_backlog": "mem_replication_backlog_bytes",
    "expired_stale_perc": "expired_stale_percentage",
    "mem_not_counted_for_evict": "mem_not_counted_for_eviction_bytes",
    "mem_total_replication_buffers": "mem_total_replication_buffers_bytes",
    "lazyfree_pending_objects": "lazyfree_pending_objects", "lazyfreed_objects": "lazyfreed_objects",
    "active_defrag_running": "active_defrag_running",
    # persistence
    "loading": "loading_dump_file", "async_loading": "async_loading",
    "rdb_changes_since_last_save": "rdb_changes_since_last_save",
    "rdb_bgsave_in_progress": "rdb_bgsave_in_progress",
    "rdb_last_save_time": "rdb_last_save_timestamp_seconds",
    "rdb_last_bgsave_status": "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec": "rdb_last_bgsave_duration_sec",
    "rdb_current_bgsave_time_sec": "rdb_current_bgsave_duration_sec",
    "rdb_saves": "rdb_saves_total", "rdb_last_cow_size": "rdb_last_cow_size_bytes",
    "rdb_last_load_keys_expired": "rdb_last_load_expired_keys",
    "rdb_last_load_keys_loaded": "rdb_last_load_loaded_keys",
    "aof_enabled": "aof_enabled", "aof_rewrite_in_progress": "aof_rewrite_in_progress",
    "aof_rewrite_scheduled": "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec": "aof_last_rewrite_duration_sec",
    "aof_current_rewrite_time_sec": "aof_current_rewrite_duration_sec",
    "aof_last_cow_size": "aof_last_cow_size_bytes", "aof_current_size": "aof_current_size_bytes",
    "aof_base_size": "aof_base_size_bytes", "aof_pending_rewrite": "aof_pending_rewrite",
    "aof_buffer_length": "aof_buffer_length", "aof_rewrite_buffer_length": "aof_rewrite_buffer_length",
    "aof_pending_bio_fsync": "aof_pending_bio_fsync", "aof_delayed_fsync": "aof_delayed_fsync",
    "aof_last_bgrewrite_status": "aof_last_bgrewrite_status",
    "aof_last_write_status": "aof_last_write_status",
    "module_fork_in_progress": "module_fork_in_progress",
    "module_fork_last_cow_size": "module_fork_last_cow_size",
    # stats
    "current_eviction_exceeded_time": "current_eviction_exceeded_time_ms",
    "pubsub_channels": "pubsub_channels", "pubsub_patterns": "pubsub_patterns",
    "pubsubshard_channels": "pubsubshard_channels", "latest_fork_usec": "latest_fork_usec",
    "tracking_total_keys": "tracking_total_keys", "tracking_total_items": "tracking_total_items",
    "tracking_total_prefixes": "tracking_total_prefixes",
    "instantaneous_eventloop_cycles_per_sec": "instantaneous_eventloop_cycles_per_sec",
    "instantaneous_eventloop_duration_usec": "instantaneous_eventloop_duration_usec",
    # replication
    "connected_slaves": "connected_slaves", "repl_backlog_size": "replication_backlog_bytes",
    "repl_backlog_active": "repl_backlog_is_active",
    "repl_backlog_first_byte_offset": "repl_backlog_first_byte_offset",
    "repl_backlog_histlen": "repl_backlog_history_bytes",
    "master_repl_offset": "master_repl_offset", "second_repl_offset": "second_repl_offset",
    "slave_expires_tracked_keys": "slave_expires_tracked_keys", "slave_priority": "slave_priority",
    "sync_full": "replica_resyncs_full", "sync_partial_ok": "replica_partial_resync_accepted",
    "sync_partial_err": "replica_partial_resync_denied",
}

# INFO field -> metric name (a counter).
COUNTERS = {
    "total_connections_received": "connections_received_total",
    "total_commands_processed": "commands_processed_total",
    "rejected_connections": "rejected_connections_total",
    "total_net_input_bytes": "net_input_bytes_total",
    "total_net_output_bytes": "net_output_bytes_total",
    "total_net_repl_input_bytes": "net_repl_input_bytes_total",
    "total_net_repl_output_bytes": "net_repl_output_bytes_total",
    "expired_keys": "expired_keys_total",
    "expired_time_cap_reached_count": "expired_time_cap_reached_total",
    "expire_cycle_cpu_milliseconds": "expire_cycle_cpu_time_ms_total",
    "evicted_keys": "evicted_keys_total", "evicted_clients": "evicted_clients_total",
    "total_eviction_exceeded_time": "eviction_exceeded_time_ms_total",
    "keyspace_hits": "keyspace_hits_total", "keyspace_misses": "keyspace_misses_total",
    "eventloop_cycles": "eventloop_cycles_total",
    "eventloop_duration_sum": "eventloop_duration_sum_usec_total",
    "eventloop_duration_cmd_sum": "eventloop_duration_cmd_sum_usec_total",
    "used_cpu_sys": "cpu_sys_seconds_total", "used_cpu_user": "cpu_user_seconds_total",
    "used_cpu_sys_children": "cpu_sys_children_seconds_total",
    "used_cpu_user_children": "cpu_user_children_seconds_total",
    "used_cpu_sys_main_thread": "cpu_sys_main_thread_seconds_total",
    "used_cpu_user_main_thread": "cpu_user_main_thread_seconds_total",
    "unexpected_error_replies": "unexpected_error_replies",
    "total_error_replies": "total_error_replies",
    "dump_payload_sanitizations": "dump_payload_sanitizations",
    "total_reads_processed": "total_reads_processed",
    "total_writes_processed": "total_writes_processed",
    "io_threaded_reads_processed": "io_threaded_reads_processed",
    "io_threaded_writes_processed": "io_threaded_writes_processed",
    "client_query_buffer_limit_disconnections": "client_query_buffer_limit_disconnections_total",
    "client_output_buffer_limit_disconnections": "client_output_buffer_limit_disconnections_total",
    "acl_access_denied_auth": "acl_access_denied_auth_total",
    "acl_access_denied_cmd": "acl_access_denied_cmd_total",
    "acl_access_denied_key": "acl_access_denied_key_total",
    "acl_access_denied_channel": "acl_access_denied_channel_total",
}

# The labels of the instance_info metric, all INFO fields.
INSTANCE_LABELS = ("role", "redis_version", "redis_build_id", "redis_mode", "os",
                   "maxmemory_policy", "tcp_port", "run_id", "process_id", "master_replid")

# Configs redis_exporter always exports as redis_config_<name>.
CONFIG_GAUGES = ("io-threads", "maxclients", "maxmemory", "repl-backlog-size")


class Spec(NamedTuple):
    """One metric family as plain values: equal specs, equal exposition.

    `rows`: (label values, value) for a gauge or a counter; for a summary,
    (label values, ((quantile, value), ...), sum, count). A label value is a str,
    or bytes (a key's, a group's or a consumer's name) decoded as UTF-8."""
    kind: str
    name: str           # without the prefix; a counter's without ``_total``
    doc: str
    labels: tuple[str, ...]
    rows: tuple


def metric(spec: Spec, openmetrics: bool = False) -> Metric:
    """prometheus_client's family for `spec`. A summary's quantiles are labelled as
    INFO names its percentiles ("99.9", as redis_exporter does) in the text format,
    as fractions in OpenMetrics (which requires them between 0 and 1)."""
    name = PREFIX + spec.name
    labels = list(spec.labels)
    if spec.kind == "summary":
        family = Metric(name, spec.doc, "summary")
        for values, quantiles, total, count in spec.rows:
            base = dict(zip(labels, values))
            for quantile, number in quantiles:
                if openmetrics:
                    quantile = str(float(Decimal(quantile).scaleb(-2)))
                family.add_sample(name, {**base, "quantile": quantile}, number)
            family.add_sample(name + "_sum", base, total)
            family.add_sample(name + "_count", base, count)
        return family
    family = (CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily)(name, spec.doc, labels=labels)
    for values, number in spec.rows:
        family.add_metric([label_value(v) for v in values], number)
    return family


def label_value(value) -> str:
    """A label value: names of keys, groups and consumers are bytes (UTF-8)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number(value) -> float | None:
    """An INFO value as redis_exporter reads it: ok/true are 1, err/fail/false 0."""
    if isinstance(value, (int, float)):
        return value
    if value in ("ok", "true"):
        return 1
    if value in ("err", "fail", "false"):
        return 0
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _one(kind: str, name: str, doc: str, number) -> Spec:
    return Spec(kind, name, doc, (), (((), number),))


def _field_spec(key: str, number) -> Spec | None:
    """How INFO field `key` is exported, None when it is not."""
    counter = COUNTERS.get(key)
    if counter is not None and counter.endswith("_total"):
        return _one("counter", counter[:-6], f"INFO field {key}", number)
    name = GAUGES.get(key) if counter is None else counter
    if name is None:
        return None
    if name == "latest_fork_usec":
        return _one("gauge", "latest_fork_seconds", f"INFO field {key}", number / 1e6)
    return _one("gauge", name, f"INFO field {key}", number)


# Sections with their own families: their fields are not read as single numbers.
_STRUCTURED = ("commandstats", "errorstats", "keyspace", "latencystats")

# A replica's fields redis_exporter labels with its master (master_host, master_port).
_MASTER_LINK = {
    "master_last_io_seconds_ago": "Seconds since the last interaction with the master",
    "master_sync_in_progress": "1 while the replica loads a full sync",
    "slave_repl_offset": "Replication offset the replica has applied",
}


def info_specs(sections: dict[str, list[tuple[str, object]]], now: float | None = None,
               databases: int = 0) -> Iterator[Spec]:
    """The families of INFO's fields, grouped by section name (lower case);
    `databases`: how many there are (the empty ones get zero key counts, as
    redis_exporter's default include-metrics-for-empty-databases gives them)."""
    now = time.time() if now is None else now
    fields: dict[str, object] = {}
    for name, pairs in sections.items():
        if name not in _STRUCTURED:
            fields.update(pairs)
    for key, value in fields.items():
        number = _number(value)
        if number is not None:
            spec = _field_spec(key, number)
            if spec is not None:
                yield spec
    if "uptime_in_seconds" in fields:
        yield _one("gauge", "start_time_seconds", "When the server started, in Unix seconds",
                   float(int(now) - int(fields["uptime_in_seconds"])))  # type: ignore[call-overload]
    for key in ("hz", "configured_hz"):
        if key in fields:
            yield _one("gauge", key, f"INFO field {key}", float(fields[key]))  # type: ignore[arg-type]
    if "redis_version" in fields:
        yield Spec("gauge", "instance_info", "Always 1; the labels describe the server", INSTANCE_LABELS,
                   ((tuple(str(fields.get(k, "")) for k in INSTANCE_LABELS), 1),))
    yield from _replication(fields, sections.get("replication", []))
    yield from _commandstats(sections.get("commandstats", []), sections.get("latencystats", []))
    yield Spec("counter", "errors", "Error replies by error code (INFO errorstats)", ("err",), tuple(
        ((key.removeprefix("errorstat_"),), float(str(value).split("=", 1)[1]))
        for key, value in sections.get("errorstats", [])))
    yield from _keyspace(sections.get("keyspace", []), databases)


def _stats(value) -> dict[str, str]:
    return dict(part.split("=", 1) for part in str(value).split(","))


_SLAVE_LABELS = ("slave_ip", "slave_port", "slave_state")
_MASTER_LABELS = ("master_host", "master_port")


def _replication(fields: dict, pairs) -> Iterator[Spec]:
    """redis_exporter's replication families: the replicas of a primary with their
    offsets and lags, a replica's link to its master."""
    offsets, lags = [], []
    for key, value in pairs:
        if key.startswith("slave") and key[5:].isdigit():
            link = _stats(value)
            labels = (link.get("ip", ""), link.get("port", ""), link.get("state", ""))
            offsets.append((labels, float(link["offset"])))
            if "lag" in link:
                lags.append((labels, float(link["lag"])))
    if offsets:
        yield Spec("gauge", "connected_slave_offset_bytes", "Replication offset each replica acknowledged",
                   _SLAVE_LABELS, tuple(offsets))
        yield Spec("gauge", "connected_slave_lag_seconds", "Seconds since each replica's last acknowledgement",
                   _SLAVE_LABELS, tuple(lags))
    if fields.get("role") != "slave":
        return
    master = (str(fields.get("master_host", "")), str(fields.get("master_port", "")))
    yield Spec("gauge", "master_link_up", "1 while the replica's link to its master is up", _MASTER_LABELS,
               ((master, float(fields.get("master_link_status") == "up")),))
    for key, doc in _MASTER_LINK.items():
        number = _number(fields.get(key))
        if number is not None:
            yield Spec("gauge", key, doc, _MASTER_LABELS, ((master, number),))
    yield Spec("gauge", "slave_info", "Always 1 on a replica; the labels describe its master",
               _MASTER_LABELS + ("read_only",), ((master + (str(fields.get("slave_read_only", "")),), 1),))


def _commandstats(pairs, latency_pairs) -> Iterator[Spec]:
    calls, duration, rejected, failed = [], [], [], []
    counts: dict[str, tuple[float, float]] = {}
    for key, value in pairs:
        cmd = key.removeprefix("cmdstat_")
        stats = _stats(value)
        label = (cmd,)
        n, usec = float(stats["calls"]), float(stats["usec"])
        counts[cmd] = (n, usec)
        calls.append((label, n))
        duration.append((label, usec / 1e6))
        if "rejected_calls" in stats:
            rejected.append((label, float(stats["rejected_calls"])))
            failed.append((label, float(stats["failed_calls"])))
    cmd = ("cmd",)
    yield Spec("counter", "commands", "Calls of each command (INFO commandstats calls)", cmd, tuple(calls))
    yield Spec("counter", "commands_duration_seconds", "Seconds spent in each command (INFO commandstats usec)",
               cmd, tuple(duration))
    yield Spec("counter", "commands_rejected_calls",
               "Calls of each command refused before running (rejected_calls)", cmd, tuple(rejected))
    yield Spec("counter", "commands_failed_calls",
               "Calls of each command that failed while running (failed_calls)", cmd, tuple(failed))
    # redis_exporter's summary: INFO latencystats' percentiles (microseconds) with
    # commandstats' calls and usec as count and sum; a command missing from either
    # section is left out.
    latency = []
    for key, value in latency_pairs:
        name = key.removeprefix("latency_percentiles_usec_")
        if name in counts:
            n, usec = counts[name]
            quantiles = tuple((part.split("=", 1)[0][1:], float(part.split("=", 1)[1]))
                              for part in str(value).split(","))
            latency.append(((name,), quantiles, usec, n))
    if latency:
        yield Spec("summary", "latency_percentiles_usec",
                   "Latency percentiles of each command in microseconds (INFO latencystats)", cmd, tuple(latency))


def _keyspace(pairs, databases: int) -> Iterator[Spec]:
    keys, expiring, ttl = [], [], []
    listed = dict(pairs)
    for index in range(databases):
        db = f"db{index}"
        if db not in listed:
            keys.append(((db,), 0.0))
            expiring.append(((db,), 0.0))
    for db, value in pairs:
        stats = _stats(value)
        keys.append(((db,), float(stats["keys"])))
        expiring.append(((db,), float(stats["expires"])))
        ttl.append(((db,), float(stats["avg_ttl"]) / 1000))
    yield Spec("gauge", "db_keys", "Keys in each database", ("db",), tuple(keys))
    yield Spec("gauge", "db_keys_expiring", "Keys with a TTL in each database", ("db",), tuple(expiring))
    yield Spec("gauge", "db_avg_ttl_seconds", "Mean remaining TTL of the keys with one, in seconds", ("db",),
               tuple(ttl))


_S, _G, _C = ("db", "stream"), ("db", "stream", "group"), ("db", "stream", "group", "consumer")

# name, counter?, help (XINFO's field it comes from), in the order of the numbers
# `metrics.EngineCollector` takes of a stream, a group and a consumer.
STREAM_FAMILIES = (
    ("stream_length", False, "Entries in the stream (XINFO STREAM length)"),
    ("stream_radix_tree_keys", False, "XINFO STREAM radix-tree-keys"),
    ("stream_radix_tree_nodes", False, "XINFO STREAM radix-tree-nodes"),
    ("stream_last_generated_id", False, "Milliseconds part of the stream's last generated ID"),
    ("stream_groups", False, "Consumer groups of the stream"),
    ("stream_max_deleted_entry_id", False, "Milliseconds part of the largest ID deleted from the stream"),
    ("stream_first_entry_id", False, "Milliseconds part of the first entry's ID"),
    ("stream_last_entry_id", False, "Milliseconds part of the last entry's ID"),
    ("stream_entries_added", True, "Entries ever added to the stream"),
)
GROUP_FAMILIES = (
    ("stream_group_consumers", False, "Consumers in the group"),
    ("stream_group_messages_pending", False, "Entries delivered to the group and not acknowledged"),
    ("stream_group_last_delivered_id", False, "Milliseconds part of the group's last delivered ID"),
    ("stream_group_entries_read", False, "XINFO GROUPS entries-read"),
    ("stream_group_lag", False, "Entries not yet delivered to the group"),
)
CONSUMER_FAMILIES = (
    ("stream_group_consumer_messages_pending", False, "Entries delivered to the consumer and not acknowledged"),
    ("stream_group_consumer_idle_seconds", False, "Seconds since the consumer last read or claimed"),
)


def stream_specs(streams: list[tuple[tuple, tuple]], groups: list[tuple[tuple, tuple]],
                 consumers: list[tuple[tuple, tuple]]) -> Iterator[Spec]:
    """The stream, group and consumer families from (label values, numbers in the
    order of STREAM_FAMILIES, GROUP_FAMILIES or CONSUMER_FAMILIES) rows."""
    for table, labels, rows in ((STREAM_FAMILIES, _S, streams), (GROUP_FAMILIES, _G, groups),
                                (CONSUMER_FAMILIES, _C, consumers)):
        for i, (name, counter, doc) in enumerate(table):
            yield Spec("counter" if counter else "gauge", name, doc, labels,
                       tuple([(values, numbers[i]) for values, numbers in rows]))
