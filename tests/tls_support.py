"""Certificates made at run time with the openssl command (no key is ever stored in the repo)."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass

import pytest

from support import IN_CI


@dataclass
class Certs:
    dir: str
    ca: str                 # the CA that signs everything below
    cert: str               # server certificate (CN=localhost, SAN localhost/127.0.0.1)
    key: str
    client_cert: str        # a client certificate signed by the same CA
    client_key: str
    enc_key: str            # the server key encrypted with `passphrase`
    passphrase: str
    other_ca: str           # a second CA, and a server certificate it signed
    other_cert: str
    other_key: str
    dh: str                 # DH parameters (RFC 7919 ffdhe2048)
    ca_dir: str             # a hashed directory holding `ca` (tls-ca-cert-dir)


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(d: str, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
             # Python 3.13's default context verifies strictly (VERIFY_X509_STRICT): a CA
             # must say it is one, with a key usage to sign certificates.
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _signed(d: str, ca: str, name: str, cn: str, server: bool) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as fh:
        fh.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=critical,digitalSignature\n"
                 "extendedKeyUsage=serverAuth,clientAuth\n" if server else
                 "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
                 "subjectAltName=DNS:client\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)


def make_certs(d: str) -> Certs:
    if shutil.which("openssl") is None:
        if IN_CI:
            pytest.fail("the openssl command is required in CI")
        pytest.skip("openssl missing")
    d = str(d)
    _ca(d, "ca")
    _ca(d, "otherca")
    _signed(d, "ca", "server", "localhost", True)
    _signed(d, "ca", "client", "client", False)
    _signed(d, "otherca", "other", "other-server", True)
    _openssl("pkey", "-in", "server.key", "-out", "server-enc.key", "-aes256", "-passout", "pass:s3cret", cwd=d)
    _openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh.pem", cwd=d)
    os.mkdir(os.path.join(d, "cadir"))
    shutil.copy(os.path.join(d, "ca.crt"), os.path.join(d, "cadir", "ca.pem"))
    _openssl("rehash", "cadir", cwd=d)
    j = lambda name: os.path.join(d, name)  # noqa: E731
    return Certs(d, j("ca.crt"), j("server.crt"), j("server.key"), j("client.crt"), j("client.key"),
                 j("server-enc.key"), "s3cret", j("otherca.crt"), j("other.crt"), j("other.key"), j("dh.pem"),
                 j("cadir"))


def server_args(certs: Certs, tls_port: int, *extra: str) -> list[str]:
    """redis-server arguments serving TLS on `tls_port` with these certificates."""
    return ["--tls-port", str(tls_port), "--tls-cert-file", certs.cert, "--tls-key-file", certs.key,
            "--tls-ca-cert-file", certs.ca, *extra]


def client_context(certs: Certs, client_cert: bool = True, ca: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca or certs.ca)
    ctx.check_hostname = False
    if client_cert:
        ctx.load_cert_chain(certs.client_cert, certs.client_key)
    return ctx


class TLSRaw:
    """A raw RESP client over TLS (requests as bytes, replies as bytes)."""

    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 10.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")

    def peer_cn(self) -> str:
        cert = self.sock.getpeercert()
        return dict(x[0] for x in cert["subject"])["commonName"]

    def call(self, *args: str) -> bytes:
        from rawclient import encode_command
        self.sock.sendall(encode_command(args))
        return self.read_reply()

    def read_reply(self) -> bytes:
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def close(self) -> None:
        self.sock.close()
