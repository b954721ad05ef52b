"""The cluster family: Vermilion runs as a non-clustered Redis (cluster-enabled no).

READONLY, READWRITE and ASKING exist so that the command table, COMMAND and ACL
rules name them as Redis 7.0 does (`+readonly` in an ACL file is a valid rule);
without cluster mode each answers Redis's refusal. CLUSTER itself is not
declared (docs/compatibility.md).
"""
from __future__ import annotations

from ..engine.errors import CommandError
from ..engine.table import command

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
