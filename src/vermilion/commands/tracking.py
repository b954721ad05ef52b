"""Client-side caching commands: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO.

The tracking table and the invalidation messages live in engine/tracking.py.
"""
from __future__ import annotations

from ..engine.errors import SYNTAX, CommandError
from ..engine.replies import OK, RespSet
from ..engine.table import command
from ._args import parse_int


def _overlap(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _prefix_collision(state, prefixes: list[bytes]) -> None:
    """Redis's checkPrefixCollisionsOrReply: a client's prefixes must not overlap, neither
    with the ones it has nor with each other."""
    existing = state.prefixes if state is not None else []
    for i, prefix in enumerate(prefixes):
        for others, what in ((existing, "an existing"), (prefixes[i + 1:], "another provided")):
            for other in others:
                if _overlap(prefix, other):
                    raise CommandError(
                        f"ERR Prefix '{_text(prefix)}' overlaps with {what} prefix "
                        f"'{_text(other)}'. Prefixes for a single client must not overlap.")


def _text(value: bytes) -> str:
    # Redis prints the prefix with %s: up to a NUL byte.
    return value.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


_MODES = (b"bcast", b"optin", b"optout", b"noloop")


@command("client|tracking", arity=-3, flags="noscript loading stale", acl="connection",
         since="6.0.0", summary="Controls server-assisted client-side caching for the connection.",
         args="status(ON|OFF) [REDIRECT=client-id:i] [PREFIX=prefix...&] [BCAST] [OPTIN] [OPTOUT] "
              "[NOLOOP]")
def client_tracking(client, args):
    engine = client.engine
    redirect = 0
    chosen: set[bytes] = set()      # BCAST, OPTIN, OPTOUT, NOLOOP
    prefixes: list[bytes] = []
    i = 3
    while i < len(args):
        opt = args[i].lower()
        more = i + 1 < len(args)
        if opt == b"redirect" and more:
            i += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(args[i])
            if redirect not in engine.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt in _MODES:
            chosen.add(opt)
        elif opt == b"prefix" and more:
            i += 1
            prefixes.append(args[i])
        else:
            raise CommandError(SYNTAX)
        i += 1
    bcast, optin, optout, noloop = (m in chosen for m in _MODES)
    mode = args[2].lower()
    if mode == b"on":
        state = client.tracking
        if not bcast and prefixes:
            raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        if state is not None and state.bcast != bcast:
            raise CommandError("ERR You can't switch BCAST mode on/off before disabling tracking "
                               "for this client, and then re-enabling it with a different mode.")
        if bcast and (optin or optout):
            raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        if state is not None and ((optin and state.optout) or (optout and state.optin)):
            raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                               "for this client, and then re-enabling it with a different mode.")
        if bcast:
            _prefix_collision(state, prefixes)
        engine.tracking.enable(client, redirect, bcast, optin, optout, noloop, prefixes)
    elif mode == b"off":
        engine.tracking.disable(client)
    else:
        raise CommandError(SYNTAX)
    return OK


# CLIENT CACHING YES applies to OPTIN tracking, NO to OPTOUT tracking.
_CACHING = {b"yes": ("YES", "optin"), b"no": ("NO", "optout")}


@command("client|caching", arity=3, flags="noscript loading stale", acl="connection",
         since="6.0.0", summary="Instructs the server whether to track the keys in the next request.",
         args="mode(YES|NO)")
def client_caching(client, args):
    state = client.tracking
    if state is None:
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in tracking "
                           "mode with OPTIN or OPTOUT mode enabled")
    mode = _CACHING.get(args[2].lower())
    if mode is None:
        raise CommandError(SYNTAX)
    word, needed = mode
    if not getattr(state, needed):
        raise CommandError(f"ERR CLIENT CACHING {word} is only valid when tracking is enabled in "
                           f"{needed.upper()} mode.")
    state.caching = True
    state.caching_ends = False
    return OK


@command("client|getredir", arity=2, flags="noscript loading stale", acl="connection",
         since="6.0.0",
         summary="Returns the client ID to which the connection's tracking notifications are redirected.")
def client_getredir(client, args):
    state = client.tracking
    return state.redirect if state is not None else -1


@command("client|trackinginfo", arity=2, flags="noscript loading stale", acl="connection",
         since="6.2.0", summary="Returns information about server-assisted client-side caching "
                                "for the connection.")
def client_trackinginfo(client, args):
    state = client.tracking
    if state is None:
        return {b"flags": RespSet([b"off"]), b"redirect": -1, b"prefixes": []}
    return {b"flags": RespSet(state.flags()), b"redirect": state.redirect,
            b"prefixes": list(state.prefixes)}
