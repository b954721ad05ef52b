"""TLS: the tls-* directives, certificate reloads, clients (redis-py, redis-cli, node-redis),
plaintext on the TLS port, client certificates -- each compared with redis-server serving
TLS on the same certificates (made at run time by tls_support.make_certs)."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import vermilion
from rawclient import RawClient
from support import IN_CI, RedisProcess, free_port, require_reference, wait_port
from tls_support import TLSRaw, client_context, make_certs, server_args


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def servers(certs):
    """(redis-server, Vermilion), each with a plaintext port for control and a TLS port."""
    binary = require_reference()
    ref_tls = free_port()
    ref = RedisProcess(binary, *server_args(certs, ref_tls))
    wait_port(ref_tls)
    ref.tls_port = ref_tls
    ver = vermilion.embedded(port=free_port(), tls={"cert_file": certs.cert, "key_file": certs.key,
                                                    "ca_cert_file": certs.ca})
    ver.start()
    try:
        yield ref, ver
    finally:
        ver.stop()
        ref.stop()


DEFAULTS = [("tls-cert-file", None), ("tls-key-file", None), ("tls-ca-cert-file", None), ("tls-ca-cert-dir", ""),
            ("tls-auth-clients", "yes"), ("tls-protocols", ""), ("tls-key-file-pass", ""),
            ("tls-ciphers", ""), ("tls-dh-params-file", "")]


@pytest.fixture
def both(servers, certs):
    """Control connections to both; every tls-* setting a test changes is restored."""
    ref, ver = servers
    controls = [RawClient(ref.port), RawClient(ver.port)]
    yield [(ref.tls_port, controls[0]), (ver.tls_port, controls[1])]
    files = {"tls-cert-file": certs.cert, "tls-key-file": certs.key, "tls-ca-cert-file": certs.ca}
    for c in controls:
        args = [x for name, value in DEFAULTS for x in (name, files.get(name, value))]
        assert c.call("CONFIG", "SET", *args).value == b"OK"
        c.close()


def tls_redis(port, certs, **kw):
    args = {"ssl": True, "ssl_ca_certs": certs.ca, "ssl_check_hostname": False,
            "ssl_certfile": certs.client_cert, "ssl_keyfile": certs.client_key,
            "socket_timeout": 10, "retry": Retry(NoBackoff(), 0)}
    args.update(kw)
    return redis.Redis(host="127.0.0.1", port=port, **{k: v for k, v in args.items() if v is not None})


def outcome(fn):
    """What a client observes: the value, or that it failed. (Redis sends OpenSSL's alert
    before closing a failed handshake; asyncio's TLS layer closes without it, so the
    client's error class can differ: docs/compatibility.md.)"""
    try:
        return ("ok", fn())
    except (redis.ConnectionError, ssl.SSLError, ConnectionError, OSError):
        return ("error",)


def test_redis_py_over_tls_with_client_certificate(both, certs):
    for port, _ in both:
        r = tls_redis(port, certs)
        assert r.ping() is True
        r.set("tls:k", "v")
        assert r.get("tls:k") == b"v"
        pipe = r.pipeline()
        for i in range(200):
            pipe.incr("tls:n")
        assert pipe.execute()[-1] == 200
        assert r.get("tls:n") == b"200"
        r.delete("tls:k", "tls:n")
        r.close()


def test_large_values_cross_tls_records(both, certs):
    big = os.urandom(300_000)
    for port, _ in both:
        r = tls_redis(port, certs)
        r.set("tls:big", big)
        assert r.get("tls:big") == big
        r.delete("tls:big")
        r.close()


def test_client_certificate_required_optional_and_not_asked(both, certs):
    seen = []
    for port, control in both:
        per_mode = {}
        for mode in ("yes", "optional", "no"):
            assert control.call("CONFIG", "SET", "tls-auth-clients", mode).value == b"OK"
            without = outcome(lambda: tls_redis(port, certs, ssl_certfile=None, ssl_keyfile=None).ping())
            with_cert = outcome(lambda: tls_redis(port, certs).ping())
            # A certificate from a CA the server does not trust.
            foreign = outcome(lambda: tls_redis(port, certs, ssl_certfile=certs.other_cert,
                                                ssl_keyfile=certs.other_key).ping())
            per_mode[mode] = (without, with_cert, foreign)
        seen.append(per_mode)
    assert seen[1] == seen[0]
    assert seen[0]["yes"][0][0] == "error" and seen[0]["yes"][1] == ("ok", True)
    assert seen[0]["optional"][:2] == (("ok", True), ("ok", True))
    assert seen[0]["optional"][2][0] == "error"
    assert seen[0]["no"] == (("ok", True),) * 3


def read_until_closed(port: int, data: bytes) -> bytes:
    """What comes back before the server closes (a reset counts as a close: Redis resets
    because it leaves the rest of the request unread)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    return out


def test_plaintext_client_on_tls_port_is_dropped(both):
    seen = [read_until_closed(port, b"PING\r\n") for port, _ in both]
    assert seen[1] == seen[0]
    assert b"PONG" not in seen[0]
    seen = [read_until_closed(port, b"*1\r\n$4\r\nPING\r\n") for port, _ in both]
    assert seen[1] == seen[0]
    assert b"PONG" not in seen[0]
    for _, control in both:            # and the server is fine afterwards
        assert control.call("PING").value == b"PONG"


def test_config_set_errors_and_values(both, certs):
    cases = [
        ("tls-cert-file", "/nonexistent/cert.pem"),
        ("tls-key-file", "/nonexistent/key.pem"),
        ("tls-ca-cert-file", "/nonexistent/ca.pem"),
        ("tls-key-file", certs.other_key),            # does not match the certificate
        ("tls-protocols", "TLSv9"),
        ("tls-ciphers", "NO-SUCH-CIPHER"),
        ("tls-dh-params-file", "/nonexistent/dh.pem"),
        ("tls-auth-clients", "sometimes"),
        ("tls-port", "-1"),
    ]
    for name, value in cases:
        replies = [control.call("CONFIG", "SET", name, value) for _, control in both]
        assert replies[1] == replies[0], (name, value, replies)
        assert replies[0].kind == "-", (name, value)
    for name in ("tls-auth-clients", "tls-port", "tls-protocols", "tls-session-caching",
                 "tls-session-cache-size", "tls-session-cache-timeout", "tls-prefer-server-ciphers"):
        replies = [control.call("CONFIG", "GET", name) for _, control in both]
        if name == "tls-port":
            assert replies[1].value[0] == replies[0].value[0]
        else:
            assert replies[1] == replies[0], name
    # Every refused change kept the old context: TLS still serves on both.
    for port, _ in both:
        assert tls_redis(port, certs).ping() is True


def test_certificate_reload_by_config_set(both, certs):
    for port, control in both:
        old = TLSRaw(port, client_context(certs))
        assert old.peer_cn() == "localhost"
        reply = control.call("CONFIG", "SET", "tls-cert-file", certs.other_cert, "tls-key-file",
                             certs.other_key, "tls-ca-cert-file", certs.other_ca + "", "tls-auth-clients", "no")
        assert reply.value == b"OK"
        new = TLSRaw(port, client_context(certs, client_cert=False, ca=certs.other_ca))
        assert new.peer_cn() == "other-server"
        assert new.call("PING") == b"+PONG\r\n"
        assert old.call("PING") == b"+PONG\r\n"      # established connections keep theirs
        # A client that trusts only the first CA cannot talk to the new certificate.
        assert outcome(lambda: TLSRaw(port, client_context(certs)))[0] == "error"
        # A bad file is refused and the current context kept.
        bad = control.call("CONFIG", "SET", "tls-cert-file", "/nonexistent")
        assert bad.kind == "-"
        assert TLSRaw(port, client_context(certs, client_cert=False, ca=certs.other_ca)).peer_cn() == "other-server"
        old.close()
        new.close()


def test_ca_cert_dir(both, certs):
    seen = []
    for port, control in both:
        row = [control.call("CONFIG", "SET", "tls-ca-cert-file", "", "tls-ca-cert-dir", certs.ca_dir),
               outcome(lambda: tls_redis(port, certs).ping()),
               outcome(lambda: tls_redis(port, certs, ssl_certfile=certs.other_cert,
                                         ssl_keyfile=certs.other_key).ping()),
               control.call("CONFIG", "SET", "tls-ca-cert-dir", "/nonexistent-dir")]
        seen.append(row)
    assert seen[1] == seen[0]
    assert seen[0][1] == ("ok", True) and seen[0][2] == ("error",)


def test_protocol_versions(both, certs):
    def connect(port, version):
        ctx = client_context(certs)
        ctx.minimum_version = ctx.maximum_version = version
        t = TLSRaw(port, ctx)
        try:
            return t.call("PING"), t.sock.version()
        finally:
            t.close()

    seen = []
    for port, control in both:
        rows = []
        for setting in ("TLSv1.2", "TLSv1.3", "tlsv1.2 TLSv1.3"):
            assert control.call("CONFIG", "SET", "tls-protocols", setting).value == b"OK"
            rows.append([outcome(lambda: connect(port, v)) for v in
                         (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)])
        seen.append(rows)
    assert seen[1] == seen[0]
    assert seen[0][0][0] == ("ok", (b"+PONG\r\n", "TLSv1.2")) and seen[0][0][1][0] == "error"
    assert seen[0][1][1] == ("ok", (b"+PONG\r\n", "TLSv1.3")) and seen[0][1][0][0] == "error"


def test_ciphers_dh_params_and_encrypted_key(both, certs):
    for port, control in both:
        assert control.call("CONFIG", "SET", "tls-protocols", "TLSv1.2", "tls-ciphers",
                            "ECDHE-ECDSA-AES128-GCM-SHA256", "tls-dh-params-file", certs.dh).value == b"OK"
        t = TLSRaw(port, client_context(certs))
        assert t.sock.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
        t.close()
        assert control.call("CONFIG", "SET", "tls-key-file", certs.enc_key).kind == "-"   # no passphrase
        assert control.call("CONFIG", "SET", "tls-key-file", certs.enc_key, "tls-key-file-pass",
                            certs.passphrase).value == b"OK"
        assert tls_redis(port, certs).ping() is True


def test_what_python_ssl_cannot_do_is_refused(servers):
    _, ver = servers
    c = RawClient(ver.port)
    try:
        for name, value in (("tls-ciphersuites", "TLS_AES_128_GCM_SHA256"), ("tls-session-caching", "no"),
                            ("tls-session-cache-size", "100"), ("tls-session-cache-timeout", "60")):
            reply = c.call("CONFIG", "SET", name, value)
            assert reply.kind == "-"
            assert reply.value.decode().startswith(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                                          "not supported by Vermilion")
        assert c.call("CONFIG", "SET", "tls-session-cache-size", "20480").value == b"OK"
    finally:
        c.close()
    with pytest.raises(vermilion.config.ConfigFileError, match="not supported by Vermilion"):
        vermilion.embedded(config={"tls-ciphersuites": "TLS_AES_128_GCM_SHA256"})


def test_tls_only_embedded_and_tls_port_set_at_runtime(certs):
    tls = {"cert_file": certs.cert, "key_file": certs.key, "ca_cert_file": certs.ca}
    with vermilion.embedded(tls=tls) as server:
        assert server.port == 0 and server.url.startswith("rediss://")
        r = server.client()
        assert r.ping() is True
        assert r.config_get("port") == {"port": "0"}
        # A second TLS port, moved to at runtime: the new port serves, the old one is closed.
        new_port = free_port()
        assert r.config_set("tls-port", new_port)
        r2 = tls_redis(new_port, certs)
        assert r2.incr("n") == 1
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.tls_port), timeout=5).close()
        r2.close()
        r.close()
    # No TLS port at start, then one by CONFIG SET: the context is built then.
    with vermilion.embedded() as server:
        c = server.client()
        port = free_port()
        assert c.config_set("tls-cert-file", certs.cert)
        assert c.config_set("tls-key-file", certs.key)
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-port", port)          # no CA, and tls-auth-clients is yes
        assert c.config_get("tls-port") == {"tls-port": "0"}
        assert c.config_set("tls-auth-clients", "no")
        assert c.config_set("tls-port", port)
        r = tls_redis(port, certs, ssl_certfile=None, ssl_keyfile=None)
        assert r.ping() is True
        r.close()
        c.close()


def test_startup_without_certificate_fails_like_redis(certs):
    with pytest.raises(RuntimeError, match="Failed to configure TLS"):
        vermilion.embedded(tls={"key_file": certs.key}).start()


def test_redis_cli_tls(both, certs):
    cli = shutil.which("redis-cli")
    if cli is None:
        if IN_CI:
            pytest.fail("redis-cli is required in CI")
        pytest.skip("redis-cli missing")
    script = "SET cli:t 1\nINCR cli:t\nGET cli:t\nECHO \"two words\"\nDEL cli:t\n"
    outputs = []
    for port, _ in both:
        out = subprocess.run([cli, "-p", str(port), "--tls", "--cacert", certs.ca, "--cert", certs.client_cert,
                              "--key", certs.client_key], input=script, capture_output=True, text=True, timeout=30)
        outputs.append(out.stdout)
    assert outputs[1] == outputs[0] == "OK\n2\n2\ntwo words\n1\n"


def test_node_redis_tls(both, certs):
    from test_clients import NODE_DIR, node_ready
    if not node_ready():
        pytest.skip("node / node_modules missing")
    script = """
const { createClient } = require('redis');
const fs = require('fs');
const [port, ca, cert, key] = process.argv.slice(1);
(async () => {
  const c = createClient({ socket: { host: '127.0.0.1', port: +port, tls: true, servername: 'localhost',
    ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
  await c.connect();
  await c.set('node:tls', 'v');
  const v = await c.get('node:tls');
  const m = await c.multi().incr('node:n').incr('node:n').exec();
  await c.del(['node:tls', 'node:n']);
  console.log(JSON.stringify({ v, m }));
  await c.quit();
})().catch(e => { console.error(e); process.exit(1); });
"""
    outputs = []
    for port, _ in both:
        out = subprocess.run(["node", "-e", script, str(port), certs.ca, certs.client_cert, certs.client_key],
                             capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
        assert out.returncode == 0, out.stderr
        outputs.append(out.stdout)
    assert outputs[1] == outputs[0] == '{"v":"v","m":[1,2]}\n'


def test_pytest_fixture_options_serve_tls(tmp_path, certs):
    (tmp_path / "conftest.py").write_text(f"""
import pytest

@pytest.fixture(scope="session")
def vermilion_server_options():
    return {{"tls": {{"cert_file": {certs.cert!r}, "key_file": {certs.key!r},
                     "ca_cert_file": {certs.ca!r}}}}}
""")
    (tmp_path / "test_it.py").write_text("""
def test_it(vermilion_server, vermilion_client):
    assert vermilion_server.port == 0 and vermilion_server.tls_port
    assert vermilion_client.connection_pool.connection_kwargs["ssl_certfile"]
    assert vermilion_client.set("a", 1) and vermilion_client.get("a") == b"1"
""")
    import sys
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}     # only ours: a faster start
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "vermilion.pytest_plugin",
                          "-p", "no:cacheprovider", "-c", os.devnull, str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout + out.stderr


def test_tls_client_during_busy_script_is_served_after_it(certs):
    """Documented limit (docs/tls.md): a busy script serves plaintext clients by hand
    (BUSY, SCRIPT KILL), TLS connections only once the script ends -- intact."""
    tls = {"cert_file": certs.cert, "key_file": certs.key, "ca_cert_file": certs.ca}
    with vermilion.embedded(port=free_port(), tls=tls, config={"busy-reply-threshold": 50}) as server:
        t = TLSRaw(server.tls_port, client_context(certs))
        assert t.call("PING") == b"+PONG\r\n"
        caller, other = RawClient(server.port), RawClient(server.port)
        other.call("PING")                        # registered before the script starts
        caller.send("EVAL", "local i = 0 while true do i = i + 1 end", "0")
        while other.call("PING").kind != "-":     # BUSY: the script is timed out
            pass
        t.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        t.sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            t.sock.recv(100)                      # not served while the script runs
        t.sock.settimeout(10)
        assert other.call("SCRIPT", "KILL").value == b"OK"
        assert caller.read().kind == "-"          # the script was killed
        assert t.read_reply() == b"+PONG\r\n"     # then the TLS client is answered
        assert t.call("ECHO", "intact") == b"$6\r\nintact\r\n"
        for c in (caller, other):
            c.close()
        t.close()


# -- tls-replication -----------------------------------------------------------------------


def _link_up(client) -> bool:
    return client.info("replication").get("master_link_status") == "up"


def _replica_ports(primary) -> list[int]:
    info = primary.info("replication")
    return [info[k]["port"] for k in sorted(info) if k.startswith("slave") and isinstance(info[k], dict)]


def test_vermilion_replica_of_redis_over_tls(certs):
    """A Vermilion replica with tls-replication yes syncs from a redis-server primary
    that serves TLS only and requires client certificates; the replica announces
    its TLS port, as a redis-server replica does."""
    from support import wait_for
    binary = require_reference()
    tls_port = free_port()
    primary = RedisProcess(binary, *server_args(certs, tls_port), "--repl-diskless-sync-delay", "0")
    try:
        wait_port(tls_port)
        p = tls_redis(tls_port, certs)
        p.set("before", "1")
        p.rpush("list", *range(500))
        ref_replica = RedisProcess(binary, *server_args(certs, free_port()), "--tls-replication", "yes",
                                   "--replicaof", "127.0.0.1", str(tls_port))
        tls = {"cert_file": certs.cert, "key_file": certs.key, "ca_cert_file": certs.ca}
        with vermilion.embedded(port=free_port(), tls=tls, config={"tls-replication": "yes"},
                                replicaof=("127.0.0.1", tls_port)) as replica:
            r = replica.client()
            wait_for(lambda: _link_up(r), "link up over TLS")
            p.set("after", "2")
            wait_for(lambda: r.get("after") == b"2", "the write after the sync")
            assert r.get("before") == b"1" and r.llen("list") == 500
            ref = redis.Redis(port=ref_replica.port)
            wait_for(lambda: _link_up(ref) and ref.get("after") == b"2", "the redis replica")
            ports = _replica_ports(p)
            assert sorted(ports) == sorted([replica.tls_port, int(ref.config_get("tls-port")["tls-port"])])
            r.close()
            ref.close()
        ref_replica.stop()
        p.close()
    finally:
        primary.stop()


def test_redis_replica_of_vermilion_over_tls(certs):
    """A redis-server replica with tls-replication yes syncs from Vermilion's TLS port
    (the snapshot and the stream cross TLS records)."""
    from support import wait_for
    tls = {"cert_file": certs.cert, "key_file": certs.key, "ca_cert_file": certs.ca}
    with vermilion.embedded(port=free_port(), tls=tls, config={"repl-diskless-sync-delay": "0"}) as primary:
        p = primary.client()
        p.set("big", "x" * 300_000)
        p.hset("h", mapping={f"f{i}": i for i in range(300)})
        replica = RedisProcess(require_reference(), *server_args(certs, free_port()), "--tls-replication", "yes",
                               "--replicaof", "127.0.0.1", str(primary.tls_port))
        try:
            r = redis.Redis(port=replica.port)
            wait_for(lambda: _link_up(r), "redis replica link up")
            p.incr("counter")
            wait_for(lambda: r.get("counter") == b"1", "the stream over TLS")
            assert r.strlen("big") == 300_000 and r.hlen("h") == 300
            r.close()
        finally:
            replica.stop()
        p.close()


def test_replica_refuses_a_primary_its_ca_did_not_sign(certs, caplog):
    """The primary's certificate is verified against tls-ca-cert-file: a replica that
    trusts another CA never links (and logs why), as redis-server does."""
    from support import wait_for
    tls_port = free_port()
    primary = RedisProcess(require_reference(), *server_args(certs, tls_port))
    try:
        wait_port(tls_port)
        p = tls_redis(tls_port, certs)
        p.set("k", "v")
        tls = {"cert_file": certs.other_cert, "key_file": certs.other_key, "ca_cert_file": certs.other_ca}
        caplog.set_level("INFO", logger="vermilion")
        with vermilion.embedded(port=free_port(), tls=tls, config={"tls-replication": "yes"},
                                replicaof=("127.0.0.1", tls_port)) as replica:
            wait_for(lambda: any("certificate verify failed" in r.getMessage() for r in caplog.records),
                     "the failed verification logged")
            r = replica.client()
            assert r.info("replication")["master_link_status"] == "down"
            assert r.get("k") is None
            assert p.info("replication")["connected_slaves"] == 0
            r.close()
        p.close()
    finally:
        primary.stop()


def test_tls_replication_needs_a_ca_like_redis(certs):
    """tls-replication yes is refused without a CA to check the primary with, at run
    time as redis-server refuses it (tls-port or not)."""
    ref = RedisProcess(require_reference())
    try:
        with vermilion.embedded(port=free_port()) as ver:
            replies = []
            for port in (ref.port, ver.port):
                c = RawClient(port)
                out = [c.call("CONFIG", "SET", "tls-cert-file", certs.cert, "tls-key-file", certs.key),
                       c.call("CONFIG", "SET", "tls-replication", "yes"),
                       c.call("CONFIG", "GET", "tls-replication"),
                       c.call("CONFIG", "SET", "tls-ca-cert-file", certs.ca),
                       c.call("CONFIG", "SET", "tls-replication", "yes"),
                       c.call("CONFIG", "SET", "tls-ca-cert-file", "/nonexistent/ca.crt"),
                       c.call("CONFIG", "GET", "tls-ca-cert-file")]
                c.close()
                replies.append(out)
            assert replies[0] == replies[1]
            assert replies[1][1].kind == "-" and replies[1][4].value == b"OK"
    finally:
        ref.stop()


def test_migrate_over_tls_with_tls_cluster(certs):
    """tls-cluster yes without cluster mode: Redis 7.0 accepts it (a CA is needed, as for
    tls-replication) and MIGRATE then connects to its target with TLS, presenting its
    certificate and checking the target's against the CA. Both servers migrate to the
    same TLS-only redis-server target, to one its CA did not sign, and to a plaintext port."""
    binary = require_reference()
    target_tls, other_tls = free_port(), free_port()
    target = RedisProcess(binary, *server_args(certs, target_tls))
    other = RedisProcess(binary, "--tls-port", str(other_tls), "--tls-cert-file", certs.other_cert,
                         "--tls-key-file", certs.other_key, "--tls-ca-cert-file", certs.ca)
    ref = RedisProcess(binary)
    ver = vermilion.embedded(port=free_port())
    ver.start()
    try:
        wait_port(target_tls)
        wait_port(other_tls)
        out = []
        for port in (ref.port, ver.port):
            c = RawClient(port)
            got = [c.call("CONFIG", "SET", "tls-cert-file", certs.cert, "tls-key-file", certs.key),
                   c.call("CONFIG", "SET", "tls-cluster", "yes"),          # no CA: refused
                   c.call("CONFIG", "SET", "tls-ca-cert-file", certs.ca),
                   c.call("CONFIG", "SET", "tls-cluster", "yes"), c.call("CONFIG", "GET", "tls-cluster")]
            c.call("SET", f"mig:{port}", "v")
            c.call("SET", "mig:copy", "c")
            got += [c.call("MIGRATE", "127.0.0.1", str(target_tls), f"mig:{port}", "0", "5000"),
                    c.call("EXISTS", f"mig:{port}"),
                    c.call("MIGRATE", "127.0.0.1", str(target_tls), "", "0", "5000", "COPY", "REPLACE",
                           "KEYS", "mig:copy"),
                    c.call("MIGRATE", "127.0.0.1", str(other_tls), "mig:copy", "0", "2000"),
                    c.call("MIGRATE", "127.0.0.1", str(target.port), "mig:copy", "0", "2000"),
                    c.call("EXISTS", "mig:copy")]
            t = TLSRaw(target_tls, client_context(certs))
            got += [t.call("GET", f"mig:{port}"), t.call("GET", "mig:copy")]
            t.call("DEL", "mig:copy")
            t.close()
            c.call("CONFIG", "SET", "tls-cluster", "no")
            c.close()
            out.append(got)
        assert out[0] == out[1]
        assert out[1][1].kind == "-" and out[1][5].value == b"OK" and out[1][11] == b"$1\r\nv\r\n"
        assert out[1][8].value.startswith(b"IOERR") and out[1][9].value.startswith(b"IOERR")
    finally:
        ver.stop()
        for server in (ref, target, other):
            server.stop()


def test_config_set_bind_moves_the_tls_listener(certs):
    """CONFIG SET bind re-binds the TLS port as well as the plain one (Redis's
    changeBindAddr); an address that cannot be bound is refused and both stay where they
    were."""
    binary = require_reference()
    ref_tls = free_port()
    ref = RedisProcess(binary, *server_args(certs, ref_tls), "--protected-mode", "no")
    ver = vermilion.embedded(port=free_port(), config={"protected-mode": "no"},
                             tls={"cert_file": certs.cert, "key_file": certs.key, "ca_cert_file": certs.ca})
    ver.start()

    def tls_ping(host, port):
        try:
            raw = socket.create_connection((host, port), timeout=10)
        except OSError:
            return "refused"
        with client_context(certs).wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"PING\r\n")
            return s.recv(64)

    try:
        wait_port(ref_tls)
        out = []
        for port, tls_port in ((ref.port, ref_tls), (ver.port, ver.tls_port)):
            c = RawClient(port)
            got = [c.call("CONFIG", "SET", "bind", "127.0.0.2"),
                   tls_ping("127.0.0.1", tls_port), tls_ping("127.0.0.2", tls_port),
                   c.call("CONFIG", "SET", "bind", "999.999.999.999"), c.call("CONFIG", "GET", "bind"),
                   tls_ping("127.0.0.2", tls_port),
                   c.call("CONFIG", "SET", "bind", "127.0.0.1"),
                   tls_ping("127.0.0.1", tls_port), tls_ping("127.0.0.2", tls_port)]
            c.close()
            out.append(got)
        assert out[1] == out[0]
        assert out[1][1] == "refused" and out[1][2] == b"+PONG\r\n" and out[1][3].kind == "-"
    finally:
        ver.stop()
        ref.stop()
