"""TLS with Python's `ssl` module: the server context built from the tls-* directives,
and the TLS listener's handshake.

What is guaranteed, as in Redis 7.0 (tls.c):

* The context is built whole or not at all. A CONFIG SET of a tls-* directive
  builds a new context from the new values (files are read again even when the
  path did not change, so a renewed certificate is picked up by re-setting the
  same path); if anything fails, the command is refused with Redis's error,
  the old context keeps serving, and the reason is logged as redis-server logs it.
* Every connection accepted on the TLS port handshakes with the context current
  at accept time; established connections keep theirs.
* `tls-auth-clients` is read per connection (yes: a certificate signed by the CA
  is required, optional: checked when sent, no: not asked for).
* Anything that is not a TLS handshake (a plaintext client) ends the connection
  before a single command is read.

* With `tls-replication yes`, a replica connects to its primary over TLS, and
  with `tls-cluster yes` MIGRATE connects to its target over TLS
  (`build_client_context`); either way the context is built at startup and on every
  tls-* change even without a tls-port, so a broken setting is refused then.

What Python's ssl cannot set is refused where the directive is parsed (config.py):
TLS 1.3 cipher suites, the server session cache's size/timeout/switch.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl

from ..config import ApplyError, ConfigError

log = logging.getLogger("vermilion")

UPDATE_FAILED = "Unable to update TLS configuration. Check server logs."
LISTEN_FAILED = "Unable to listen on this port. Check server logs."
START_FAILED = "Failed to configure TLS. Check logs for more info."

_VERSIONS = {"tlsv1": ssl.TLSVersion.TLSv1, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
             "tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
_ORDER = list(_VERSIONS)
_NO_OPTION = {"tlsv1": "OP_NO_TLSv1", "tlsv1.1": "OP_NO_TLSv1_1",
              "tlsv1.2": "OP_NO_TLSv1_2", "tlsv1.3": "OP_NO_TLSv1_3"}

# Directives whose change rebuilds the context (Redis's applyTlsCfg group).
CONTEXT_DIRECTIVES = frozenset({
    "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
    "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file",
    "tls-ca-cert-file", "tls-ca-cert-dir", "tls-protocols", "tls-ciphers",
    "tls-ciphersuites", "tls-prefer-server-ciphers", "tls-session-caching",
    "tls-session-cache-size", "tls-session-cache-timeout", "tls-replication", "tls-cluster",
})

VERIFY_MODES = {"no": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "yes": ssl.CERT_REQUIRED}


class TLSConfigError(Exception):
    """The context could not be built; the message is what redis-server logs."""


def parse_protocols(text: str) -> list[str]:
    """tls-protocols: a space-separated subset of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (any case);
    empty means Redis's default, TLSv1.2 and TLSv1.3."""
    if not text:
        return ["tlsv1.2", "tlsv1.3"]
    out = []
    for word in text.split(" "):
        low = word.lower()
        if low not in _VERSIONS:
            raise TLSConfigError("Invalid tls-protocols specified. Use a combination of "
                                 "'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")
        out.append(low)
    return out


def _password(value: str):
    return value or None


def _load_chain(ctx: ssl.SSLContext, cert: str, key: str, password: str) -> None:
    # Redis loads the certificate and the key separately and logs which one failed.
    if not cert:
        raise TLSConfigError("No tls-cert-file configured!")
    if not key:
        raise TLSConfigError("No tls-key-file configured!")
    if not os.path.isfile(cert):
        raise TLSConfigError(f"Failed to load certificate: {cert}: No such file or directory")
    if not os.path.isfile(key):
        raise TLSConfigError(f"Failed to load private key: {key}: No such file or directory")
    try:
        ctx.load_cert_chain(cert, key, password=_password(password))
    except ssl.SSLError as err:
        raise TLSConfigError(f"Failed to load certificate/private key: {cert}, {key}: "
                             f"{err.reason or err}") from None
    except (OSError, ValueError) as err:
        raise TLSConfigError(f"Failed to load certificate/private key: {cert}, {key}: {err}") from None


def _base_context(values: dict, purpose: str, protocols: list[str]) -> ssl.SSLContext:
    """What Redis's createSSLContext sets for both the server and the client side."""
    server_side = purpose == "server"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    if not server_side:
        ctx.check_hostname = False
    # Versions: the lowest and highest listed bound the range; a gap inside it
    # (TLSv1 and TLSv1.2 without TLSv1.1) is closed with the OP_NO_* option.
    listed = sorted(protocols, key=_ORDER.index)
    try:
        ctx.minimum_version = _VERSIONS[listed[0]]
        ctx.maximum_version = _VERSIONS[listed[-1]]
    except ValueError as err:
        raise TLSConfigError(f"Failed to configure tls-protocols: {err}") from None
    for name in _ORDER[_ORDER.index(listed[0]):_ORDER.index(listed[-1]) + 1]:
        if name not in listed:
            ctx.options |= getattr(ssl, _NO_OPTION[name])
    ctx.options |= ssl.OP_NO_COMPRESSION
    prefix = "tls-" if server_side else "tls-client-"
    cert, key, password = (values[prefix + "cert-file"], values[prefix + "key-file"],
                           values[prefix + "key-file-pass"])
    _load_chain(ctx, cert, key, password)
    ca_file, ca_dir = values["tls-ca-cert-file"], values["tls-ca-cert-dir"]
    if ca_file or ca_dir:
        try:
            ctx.load_verify_locations(cafile=ca_file or None, capath=ca_dir or None)
        except (ssl.SSLError, OSError) as err:
            reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
            raise TLSConfigError(f"Failed to configure CA certificate(s) file/directory: {reason}") from None
    if values["tls-ciphers"]:
        try:
            ctx.set_ciphers(values["tls-ciphers"])
        except ssl.SSLError:
            raise TLSConfigError(f"Failed to configure ciphers: {values['tls-ciphers']}") from None
    return ctx


def build_context(values: dict) -> ssl.SSLContext:
    """The server context for `values` (a Config's values), or TLSConfigError."""
    if not values["tls-cert-file"]:
        raise TLSConfigError("No tls-cert-file configured!")
    if not values["tls-key-file"]:
        raise TLSConfigError("No tls-key-file configured!")
    if (values["tls-auth-clients"] != "no" or _outgoing(values)) and \
            not values["tls-ca-cert-file"] and not values["tls-ca-cert-dir"]:
        raise TLSConfigError("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
                             "tls-cluster, tls-replication or tls-auth-clients are enabled!")
    protocols = parse_protocols(values["tls-protocols"])
    ctx = _base_context(values, "server", protocols)
    ctx.verify_mode = VERIFY_MODES[values["tls-auth-clients"]]
    if values["tls-prefer-server-ciphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_SINGLE_DH_USE
    if hasattr(ssl, "OP_NO_RENEGOTIATION"):
        ctx.options |= ssl.OP_NO_RENEGOTIATION
    dh = values["tls-dh-params-file"]
    if dh:
        if not os.path.isfile(dh):
            raise TLSConfigError(f"Failed to load {dh}: No such file or directory")
        try:
            ctx.load_dh_params(dh)
        except (ssl.SSLError, OSError, ValueError):
            raise TLSConfigError(f"{dh}: failed to read DH params.") from None
    # The client side is built now too, so a bad tls-client-* file is refused here
    # (as Redis refuses it) rather than when a replica next connects.
    if values["tls-client-cert-file"] and values["tls-client-key-file"]:
        _base_context(values, "client", protocols)
    return ctx


def _outgoing(values: dict) -> bool:
    """Outgoing connections use TLS: a replica's link to its primary (tls-replication)
    or MIGRATE's connections (tls-cluster, which Redis 7.0 applies to MIGRATE even
    without cluster mode). Either needs the client context, so it is built at startup
    and on every tls-* change even without a tls-port."""
    return bool(values["tls-replication"] or values["tls-cluster"])


def build_client_context(values: dict) -> ssl.SSLContext:
    """The context of an outgoing connection (a replica to its primary with
    tls-replication, MIGRATE with tls-cluster), as Redis's client context: the
    tls-client-cert-file pair when both are set, else the server's own certificate; the primary's certificate must
    be signed by the configured CA (no host name check, as in Redis)."""
    build_context(values)          # the same validation and errors as the server side
    protocols = parse_protocols(values["tls-protocols"])
    if values["tls-client-cert-file"] and values["tls-client-key-file"]:
        ctx = _base_context(values, "client", protocols)
    else:
        ctx = _base_context({**values, "tls-client-cert-file": values["tls-cert-file"],
                             "tls-client-key-file": values["tls-key-file"],
                             "tls-client-key-file-pass": values["tls-key-file-pass"]},
                            "client", protocols)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class TLS:
    """The current server context and the TLS listeners of one Server.

    The listening sockets are bound once per tls-port and kept here; each is
    served by an asyncio server made with the current context (on a duplicate of
    the socket). A new context starts new servers on the same sockets and closes
    the old ones, so no connection is refused while switching, and each
    connection handshakes with the context of the server that accepted it.
    """

    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.context: ssl.SSLContext | None = None
        self.sockets: list[socket.socket] = []
        self.listeners: list = []
        self.port = 0
        self.bind = ""                  # the bind addresses of `sockets`
        self._refused = False
        self._stale = False             # tls-* changed since the context was built
        self.config.listeners.append(self._config_changed)

    # -- the context -----------------------------------------------------------------

    def _config_changed(self, changed) -> None:
        if self._refused:
            # The listener that refused a CONFIG SET is called again with the old
            # values restored: the old context is still current, keep it.
            self._refused = False
            return
        if changed is None:
            changed = CONTEXT_DIRECTIVES | {"tls-port", "tls-auth-clients"}
        port = self.config["tls-port"]
        moved = "tls-port" in changed and port != self.port
        if "bind" in changed and not moved and self.port and self.bind != self.config["bind"]:
            self._rebind()
        context = self.context
        if not port and changed & CONTEXT_DIRECTIVES:
            self._stale = True          # not built while nothing listens (as in Redis)
            if _outgoing(self.config.values):
                # Outgoing connections need it: a change that breaks it is refused now.
                try:
                    build_client_context(self.config.values)
                except TLSConfigError as err:
                    log.warning("%s", err)
                    self._refused = True
                    raise ConfigError(UPDATE_FAILED) from None
        if port and (changed & CONTEXT_DIRECTIVES or moved and (context is None or self._stale)):
            try:
                context = build_context(self.config.values)
            except TLSConfigError as err:
                log.warning("%s", err)
                log.warning("Failed applying new configuration. Possibly related to new %s "
                            "setting. Restoring previous settings.", sorted(changed)[0])
                self._refused = True
                raise ConfigError(UPDATE_FAILED) from None
        if moved:
            try:
                socks = self._bind(port) if port else []
            except OSError as err:
                log.warning("%s", err)
                self._refused = True
                raise ConfigError(LISTEN_FAILED) from None
            for sock in self.sockets:
                sock.close()
            self.sockets = socks
            self.port = socks[0].getsockname()[1] if socks else 0
        elif "tls-auth-clients" in changed and context is self.context and context is not None:
            # Read per connection in Redis (no rebuild): the next handshakes use it.
            context.verify_mode = VERIFY_MODES[self.config["tls-auth-clients"]]
            return
        if context is not self.context or moved:
            if context is not self.context:
                self._stale = False
            self.context = context
            self.server.engine.loop.create_task(self._serve(context, list(self.sockets)))

    # -- listening --------------------------------------------------------------------

    def _bind(self, port: int) -> list[socket.socket]:
        """Listening sockets on every `bind` address (bound now, so errors surface now)."""
        socks = self.server.bind_tcp(port, self.config["bind"], what="TLS")
        self.bind = self.config["bind"]
        return socks

    def _rebind(self) -> None:
        """CONFIG SET bind moves the TLS listener too (Redis's changeBindAddr closes and
        reopens both); if the new addresses cannot be bound, the old ones come back and
        the command fails (and the plain listener is moved back by the rollback)."""
        old = self.bind
        for srv in self.listeners:
            srv.close()
        self.listeners = []
        for sock in self.sockets:
            sock.close()
        try:
            self.sockets = self._bind(self.port)
        except OSError as err:
            log.warning("%s", err)
            self.sockets = self.server.bind_tcp(self.port, old, what="TLS")
            self.bind = old
            self._refused = True
            raise ApplyError("bind", "Failed to bind to specified addresses.") from None
        finally:
            self.server.engine.loop.create_task(self._serve(self.context, list(self.sockets)))

    async def start(self) -> None:
        """At startup: configure (Redis exits when that fails) and listen on tls-port."""
        port = self.config["tls-port"]
        if not port and not _outgoing(self.config.values):
            return
        try:
            self.context = build_context(self.config.values)
            if _outgoing(self.config.values):
                build_client_context(self.config.values)
        except TLSConfigError as err:
            log.warning("%s", err)
            raise OSError(START_FAILED) from None
        if not port:
            return
        try:
            self.sockets = self._bind(port)
        except OSError as err:
            raise OSError(f"Failed listening on port {port} (TLS), aborting. ({err})") from None
        self.port = self.sockets[0].getsockname()[1] if self.sockets else 0
        await self._serve(self.context, self.sockets)

    async def _serve(self, context, sockets) -> None:
        from .connection import Connection
        loop = asyncio.get_running_loop()
        server = self.server
        new = []
        for sock in sockets:
            if sock.fileno() < 0:
                continue        # closed by a later port change
            new.append(await loop.create_server(lambda: Connection(server), sock=sock.dup(),
                                                ssl=context, backlog=self.config["tcp-backlog"]))
        old, self.listeners = self.listeners, new
        for srv in old:
            srv.close()

    def close(self) -> None:
        for srv in self.listeners:
            srv.close()
        for sock in self.sockets:
            sock.close()
