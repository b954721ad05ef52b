"""The cluster family: Vermilion runs as a non-clustered Redis (cluster-enabled no).

CLUSTER (every subcommand), READONLY, READWRITE and ASKING are declared so that
the command table, COMMAND INFO/DOCS and ACL rules name them as Redis 7.0 does
(`-cluster` or `+readonly` in an ACL file are valid rules); without cluster mode
each answers Redis's refusal, whatever its arguments.
"""
from __future__ import annotations

from ..engine.errors import CommandError
from ..engine.table import command, container

CLUSTER_DISABLED = "ERR This instance has cluster support disabled"


@command("readonly", arity=1, flags="fast loading stale", acl="connection", group="cluster",
         since="3.0.0", summary="Enables read queries for a connection to a cluster replica node.",
         complexity="O(1)")
def readonly(client, args):
    raise CommandError(CLUSTER_DISABLED)


@command("readwrite", arity=1, flags="fast loading stale", acl="connection", group="cluster",
         since="3.0.0", summary="Disables read queries for a connection to a cluster replica node.",
         complexity="O(1)")
def readwrite(client, args):
    raise CommandError(CLUSTER_DISABLED)


@command("asking", arity=1, flags="fast", acl="connection", group="cluster", since="3.0.0",
         summary="Sent by cluster clients after an -ASK redirect.", complexity="O(1)")
def asking(client, args):
    raise CommandError(CLUSTER_DISABLED)


def _disabled(client, args):
    raise CommandError(CLUSTER_DISABLED)


container("cluster", arity=-2, acl="slow", group="cluster", since="3.0.0",
          summary="A container for cluster commands.", complexity="Depends on subcommand.")

_ADMIN = "admin stale no_async_loading"
_NONDET = ("nondeterministic_output",)

# (subcommand, arity, flags, since, arguments, tips, complexity); the admin ones are
# also @dangerous, as in Redis.
_SUBCOMMANDS = [
    ("addslots", -3, _ADMIN, "3.0.0", "slot:i...", (), "O(N) where N is the total number of hash slot arguments"),
    ("addslotsrange", -4, _ADMIN, "7.0.0", "start-slot_end-slot(start-slot:i end-slot:i)...", (),
     "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    ("bumpepoch", 2, _ADMIN, "3.0.0", "", _NONDET, "O(1)"),
    ("count-failure-reports", 3, "admin stale", "3.0.0", "node-id", _NONDET,
     "O(N) where N is the number of failure reports"),
    ("countkeysinslot", 3, "stale", "3.0.0", "slot:i", (), "O(1)"),
    ("delslots", -3, _ADMIN, "3.0.0", "slot:i...", (), "O(N) where N is the total number of hash slot arguments"),
    ("delslotsrange", -4, _ADMIN, "7.0.0", "start-slot_end-slot(start-slot:i end-slot:i)...", (),
     "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    ("failover", -2, _ADMIN, "3.0.0", "[options(FORCE|TAKEOVER)]", (), "O(1)"),
    ("flushslots", 2, _ADMIN, "3.0.0", "", (), "O(1)"),
    ("forget", 3, _ADMIN, "3.0.0", "node-id", (), "O(1)"),
    ("getkeysinslot", 4, "stale", "3.0.0", "slot:i count:i", _NONDET,
     "O(log(N)) where N is the number of requested keys"),
    ("help", 2, "loading stale", "5.0.0", "", (), "O(1)"),
    ("info", 2, "stale", "3.0.0", "", _NONDET, "O(1)"),
    ("keyslot", 3, "stale", "3.0.0", "key", (), "O(N) where N is the number of bytes in the key"),
    ("links", 2, "stale", "7.0.0", "", _NONDET, "O(N) where N is the total number of Cluster nodes"),
    ("meet", -4, _ADMIN, "3.0.0", "ip port:i [cluster_bus_port:i@4.0.0]", (), "O(1)"),
    ("myid", 2, "stale", "3.0.0", "", (), "O(1)"),
    ("nodes", 2, "stale", "3.0.0", "", _NONDET, "O(N) where N is the total number of Cluster nodes"),
    ("replicas", 3, "admin stale", "5.0.0", "node-id", _NONDET, "O(1)"),
    ("replicate", 3, _ADMIN, "3.0.0", "node-id", (), "O(1)"),
    ("reset", -2, "admin noscript stale", "3.0.0", "[hard_soft(HARD|SOFT)]", (),
     "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."),
    ("saveconfig", 2, _ADMIN, "3.0.0", "", (), "O(1)"),
    ("set-config-epoch", 3, _ADMIN, "3.0.0", "config-epoch:i", (), "O(1)"),
    ("setslot", -4, _ADMIN, "3.0.0",
     "slot:i subcommand(IMPORTING=node-id|MIGRATING=node-id|NODE=node-id|STABLE)", (), "O(1)"),
    ("shards", 2, "stale", "7.0.0", "", _NONDET, "O(N) where N is the total number of cluster nodes"),
]

for _name, _arity, _flags, _since, _args, _tips, _complexity in _SUBCOMMANDS:
    command(f"cluster|{_name}", arity=_arity, flags=_flags, since=_since, args=_args, tips=_tips,
            complexity=_complexity, acl="dangerous" if "admin" in _flags else "",
            summary=f"CLUSTER {_name.upper()} (refused: cluster support is disabled).")(_disabled)

command("cluster|slots", arity=2, flags="stale", since="3.0.0", tips=_NONDET,
        complexity="O(N) where N is the total number of Cluster nodes", doc_flags="deprecated",
        deprecated_since="7.0.0", replaced_by="`CLUSTER SHARDS`",
        summary="CLUSTER SLOTS (refused: cluster support is disabled).")(_disabled)

command("cluster|slaves", arity=3, flags="admin stale", since="3.0.0", args="node-id", tips=_NONDET,
        complexity="O(1)", acl="dangerous", doc_flags="deprecated", deprecated_since="5.0.0",
        replaced_by="`CLUSTER REPLICAS`",
        summary="CLUSTER SLAVES (refused: cluster support is disabled).")(_disabled)
