"""redis_exporter's metric names, so its Grafana dashboards work unchanged.

redis_exporter turns INFO fields into metrics through two tables (gauges and
counters), adds per-command, per-error and per-database families, and exports
XINFO numbers for the streams it is told to check. The names and labels below
are that interface; the values come from whatever produced the INFO fields
(the engine itself in `metrics.py`). Everything is prefixed ``redis_``.

prometheus_client writes a counter's sample as ``<family>_total``: counters
whose redis_exporter name does not end in ``_total`` (``total_error_replies``)
are exported as gauges, so the sample name a query uses stays the same.
"""
from __future__ import annotations

import time
from typing import Iterable, Iterator

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


def _number(value) -> float | None:
    """An INFO value as redis_exporter reads it: ok/true are 1, err/fail/false 0."""
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("ok", "true"):
        return 1.0
    if value in ("err", "fail", "false"):
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))


def _counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, labels=list(labels))


def info_families(sections: dict[str, list[tuple[str, object]]],
                  now: float | None = None) -> Iterator[Metric]:
    """Metric families from INFO fields, grouped by section name (lower case)."""
    now = time.time() if now is None else now
    fields: dict[str, object] = {}
    for name, pairs in sections.items():
        if name in ("commandstats", "errorstats", "keyspace"):
            continue
        fields.update(pairs)
    for key, value in fields.items():
        number = _number(value)
        if number is None:
            continue
        if key in COUNTERS and COUNTERS[key].endswith("_total"):
            yield _counter_value(COUNTERS[key], key, number)
            continue
        name = GAUGES.get(key) or COUNTERS.get(key)
        if name is None:
            continue
        if name == "latest_fork_usec":
            name, number = "latest_fork_seconds", number / 1e6
        family = _gauge(name, f"INFO field {key}")
        family.add_metric([], number)
        yield family
    if "uptime_in_seconds" in fields:
        start = _gauge("start_time_seconds", "When the server started, in Unix seconds")
        start.add_metric([], float(int(now) - int(fields["uptime_in_seconds"])))  # type: ignore[arg-type]
        yield start
    for key in ("hz", "configured_hz"):
        if key in fields:
            hz = _gauge(key, f"INFO field {key}")
            hz.add_metric([], float(fields[key]))  # type: ignore[arg-type]
            yield hz
    if "redis_version" in fields:
        info = _gauge("instance_info", "Always 1; the labels describe the server", INSTANCE_LABELS)
        info.add_metric([str(fields.get(k, "")) for k in INSTANCE_LABELS], 1.0)
        yield info
    yield from _commandstats(sections.get("commandstats", []))
    yield from _errorstats(sections.get("errorstats", []))
    yield from _keyspace(sections.get("keyspace", []))


def _counter_value(name: str, key: str, number: float) -> CounterMetricFamily:
    family = _counter(name, f"INFO field {key}")
    family.add_metric([], number)
    return family


def _commandstats(pairs) -> Iterator[Metric]:
    calls = _counter("commands_total", "Calls of each command (INFO commandstats calls)", ["cmd"])
    duration = _counter("commands_duration_seconds_total",
                        "Seconds spent in each command (INFO commandstats usec)", ["cmd"])
    rejected = _counter("commands_rejected_calls_total",
                        "Calls of each command refused before running (rejected_calls)", ["cmd"])
    failed = _counter("commands_failed_calls_total",
                      "Calls of each command that failed while running (failed_calls)", ["cmd"])
    for key, value in pairs:
        cmd = key.removeprefix("cmdstat_")
        stats = dict(part.split("=", 1) for part in str(value).split(","))
        calls.add_metric([cmd], float(stats["calls"]))
        duration.add_metric([cmd], float(stats["usec"]) / 1e6)
        if "rejected_calls" in stats:
            rejected.add_metric([cmd], float(stats["rejected_calls"]))
            failed.add_metric([cmd], float(stats["failed_calls"]))
    yield from (calls, duration, rejected, failed)


def _errorstats(pairs) -> Iterator[Metric]:
    errors = _counter("errors_total", "Error replies by error code (INFO errorstats)", ["err"])
    for key, value in pairs:
        errors.add_metric([key.removeprefix("errorstat_")], float(str(value).split("=", 1)[1]))
    yield errors


def _keyspace(pairs) -> Iterator[Metric]:
    keys = _gauge("db_keys", "Keys in each database", ["db"])
    expiring = _gauge("db_keys_expiring", "Keys with a TTL in each database", ["db"])
    ttl = _gauge("db_avg_ttl_seconds", "Mean remaining TTL of the keys with one, in seconds", ["db"])
    for db, value in pairs:
        stats = dict(part.split("=", 1) for part in str(value).split(","))
        keys.add_metric([db], float(stats["keys"]))
        expiring.add_metric([db], float(stats["expires"]))
        ttl.add_metric([db], float(stats["avg_ttl"]) / 1000)
    yield from (keys, expiring, ttl)


def stream_id_ms(sid) -> float:
    """A stream ID as redis_exporter exports it: its milliseconds part."""
    if sid is None:
        return 0.0
    text = sid.decode() if isinstance(sid, bytes) else str(sid)
    return float(text.split("-", 1)[0] or 0)


_S, _G, _C = ("db", "stream"), ("db", "stream", "group"), ("db", "stream", "group", "consumer")

# attribute, metric name, counter?, labels, help (XINFO's field it comes from)
STREAM_METRICS = (
    ("length", "stream_length", False, _S, "Entries in the stream (XINFO STREAM length)"),
    ("radix_keys", "stream_radix_tree_keys", False, _S, "XINFO STREAM radix-tree-keys"),
    ("radix_nodes", "stream_radix_tree_nodes", False, _S, "XINFO STREAM radix-tree-nodes"),
    ("last_generated", "stream_last_generated_id", False, _S,
     "Milliseconds part of the stream's last generated ID"),
    ("groups", "stream_groups", False, _S, "Consumer groups of the stream"),
    ("max_deleted", "stream_max_deleted_entry_id", False, _S,
     "Milliseconds part of the largest ID deleted from the stream"),
    ("first_entry", "stream_first_entry_id", False, _S, "Milliseconds part of the first entry's ID"),
    ("last_entry", "stream_last_entry_id", False, _S, "Milliseconds part of the last entry's ID"),
    ("entries_added", "stream_entries_added", True, _S, "Entries ever added to the stream"),
    ("group_consumers", "stream_group_consumers", False, _G, "Consumers in the group"),
    ("group_pending", "stream_group_messages_pending", False, _G,
     "Entries delivered to the group and not acknowledged"),
    ("group_last_delivered", "stream_group_last_delivered_id", False, _G,
     "Milliseconds part of the group's last delivered ID"),
    ("group_entries_read", "stream_group_entries_read", False, _G, "XINFO GROUPS entries-read"),
    ("group_lag", "stream_group_lag", False, _G, "Entries not yet delivered to the group"),
    ("consumer_pending", "stream_group_consumer_messages_pending", False, _C,
     "Entries delivered to the consumer and not acknowledged"),
    ("consumer_idle", "stream_group_consumer_idle_seconds", False, _C,
     "Seconds since the consumer last read or claimed"),
)


class StreamFamilies:
    """The stream metric families, filled one XINFO reply at a time."""

    def __init__(self) -> None:
        for attr, name, counter, labels, doc in STREAM_METRICS:
            setattr(self, attr, (_counter if counter else _gauge)(name, doc, labels))

    def add_stream(self, db: str, key: str, info: dict) -> None:
        """`info`: XINFO STREAM's fields (bytes keys, as the engine replies; of the
        first and last entries only the ID is read)."""
        labels = [db, key]
        first, last = info.get(b"first-entry"), info.get(b"last-entry")
        self.length.add_metric(labels, float(info[b"length"]))  # type: ignore[arg-type]
        self.radix_keys.add_metric(labels, float(info[b"radix-tree-keys"]))  # type: ignore[arg-type]
        self.radix_nodes.add_metric(labels, float(info[b"radix-tree-nodes"]))  # type: ignore[arg-type]
        self.last_generated.add_metric(labels, stream_id_ms(info[b"last-generated-id"]))
        self.groups.add_metric(labels, float(info[b"groups"]))  # type: ignore[arg-type]
        self.max_deleted.add_metric(labels, stream_id_ms(info[b"max-deleted-entry-id"]))
        self.first_entry.add_metric(labels, stream_id_ms(first[0]) if first else 0.0)
        self.last_entry.add_metric(labels, stream_id_ms(last[0]) if last else 0.0)
        self.entries_added.add_metric(labels, float(info[b"entries-added"]))  # type: ignore[arg-type]

    def add_group(self, db: str, key: str, group: dict, consumers: list[dict]) -> None:
        """`group`: one XINFO GROUPS entry; `consumers`: its XINFO CONSUMERS."""
        labels = [db, key, _text(group[b"name"])]
        self.group_consumers.add_metric(labels, float(group[b"consumers"]))
        self.group_pending.add_metric(labels, float(group[b"pending"]))
        self.group_last_delivered.add_metric(labels, stream_id_ms(group[b"last-delivered-id"]))
        self.group_entries_read.add_metric(labels, float(group[b"entries-read"] or 0))
        # An unknown lag (nil in XINFO) is exported as 0, as redis_exporter reads it.
        self.group_lag.add_metric(labels, float(group[b"lag"] or 0))
        for consumer in consumers:
            clabels = labels + [_text(consumer[b"name"])]
            self.consumer_pending.add_metric(clabels, float(consumer[b"pending"]))
            self.consumer_idle.add_metric(clabels, float(consumer[b"idle"]) / 1e3)

    def __iter__(self) -> Iterator[Metric]:
        return iter(vars(self).values())


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
