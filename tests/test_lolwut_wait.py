"""LOLWUT and WAIT against a real redis-server.

LOLWUT's art without randomness (Schotter's first two rows, one-row skylines)
is compared frame by frame; the random art is compared byte for byte with a
redis-server whose srand/srandom seed is fixed through an LD_PRELOAD shim, and
Vermilion's glibc-compatible generator seeded alike.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from rawclient import RawClient
from support import IN_CI, free_port, reference_binary, wait_port

from vermilion.types import lolwut as art


def test_lolwut_versions_and_errors(pair):
    pair.run("""
    LOLWUT
    LOLWUT 10 20
    LOLWUT VERSION
    LOLWUT VERSION 7
    LOLWUT VERSION 4
    LOLWUT VERSION 59
    LOLWUT VERSION -1
    LOLWUT VERSION x
    LOLWUT VERSION 5 x
    LOLWUT VERSION 5 10 y
    LOLWUT VERSION 6 10 z
    LOLWUT VERSION 5 1 1 1
    LOLWUT VERSION 5 3 1 2
    LOLWUT VERSION 5 0 0 0
    LOLWUT VERSION 5 66 8 2
    LOLWUT VERSION 5 2000 300 1
    LOLWUT version 4294967301 30 5 2
    LOLWUT VERSION 6 1 1
    LOLWUT VERSION 6 50 1
    LOLWUT VERSION 6 0 -5
    """)


_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
static unsigned int fixed(unsigned int seed) {
    const char *s = getenv("FIXED_SRAND");
    return s ? (unsigned int)strtoul(s, NULL, 10) : seed;
}
void srand(unsigned int seed) {
    ((void (*)(unsigned int))dlsym(RTLD_NEXT, "srand"))(fixed(seed));
}
void srandom(unsigned int seed) {
    ((void (*)(unsigned int))dlsym(RTLD_NEXT, "srandom"))(fixed(seed));
}
"""


@pytest.fixture
def seeded_redis(tmp_path):
    """A redis-server whose rand() starts from a known seed (12345)."""
    binary = reference_binary()
    cc = shutil.which("cc") or shutil.which("gcc")
    if binary is None or cc is None:
        if IN_CI:
            pytest.fail("redis-server and a C compiler are required in CI")
        pytest.skip("needs redis-server and a C compiler")
    src = tmp_path / "fixseed.c"
    src.write_text(_SHIM)
    lib = tmp_path / "fixseed.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=str(lib), FIXED_SRAND="12345")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port)
        yield RawClient(port)
    finally:
        proc.kill()
        proc.wait()


def test_lolwut_random_art_is_redis_art(seeded_redis, vermilion_process_server):
    """The same seed draws the same pixels, call after call (one shared generator)."""
    rng = art.CRandom(12345)
    for params in [(), (40, 4, 20), (100, 13, 7), (3, 1, 200), (1000, 8, 12), (9, 60, 60)]:
        got = seeded_redis.call("LOLWUT", "VERSION", "5", *map(str, params)).value
        d = list(params) + [66, 8, 12][len(params):]
        assert art.version5(rng, *d, "7.0.15") == got, params
    for params in [(), (33, 9), (200, 60), (1000, 40), (7, 300)]:
        got = seeded_redis.call("LOLWUT", "VERSION", "6", *map(str, params)).value
        d = list(params) + [80, 20][len(params):]
        assert art.version6(rng, *d, "7.0.15") == got, params
    # The server's own generator is the same: seeded alike, it answers alike.
    vermilion_process_server.engine.lolwut_random.seed(777)
    c = RawClient(vermilion_process_server.port)
    try:
        assert c.call("LOLWUT", "VERSION", "5", "30", "3", "6").value == \
            art.version5(art.CRandom(777), 30, 3, 6, "7.0.15")
    finally:
        c.close()


def test_lolwut_generator_is_glibc_rand():
    ctypes = pytest.importorskip("ctypes")
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        pytest.skip("not glibc")
    for seed in (0, 1, 12345, 2**31, 2**32 - 1):
        libc.srand(ctypes.c_uint(seed))
        expected = [libc.rand() for _ in range(500)]
        rng = art.CRandom(seed)
        assert [rng.rand() for _ in range(500)] == expected


def test_lolwut_matches_server_version(pair):
    info = pair.ver.call("INFO", "server").value
    assert b"redis_version:7.0.15" in bytes(info if isinstance(info, bytes) else info[1])
    assert pair.check("LOLWUT").value.endswith(b"Redis ver. 7.0.15\n")


# -- WAIT ----------------------------------------------------------------------------------------------

def test_wait_without_replicas(pair):
    pair.run("""
    WAIT 0 0
    WAIT -1 0
    WAIT 0 100
    WAIT 1 1
    WAIT 2 5
    WAIT 0 -1
    WAIT x 0
    WAIT 0 x
    WAIT 0 1.5
    WAIT 99999999999999999999 0
    WAIT 0 99999999999999999999
    MULTI
    WAIT 5 0
    EXEC
    EVAL "return redis.call('wait', 0, 0)" 0
    """)


def test_wait_blocks_until_timeout_or_unblock(ports):
    """numreplicas > 0 with no replica: blocked (INFO blocked_clients) until its
    timeout or CLIENT UNBLOCK, then 0."""
    for port in ports:
        waiter = RawClient(port)
        other = RawClient(port)
        try:
            wid = waiter.call("CLIENT", "ID").value
            waiter.send("WAIT", "1", "0")
            # Wait on state: the server reports the client blocked.
            for _ in range(1000):
                if b"blocked_clients:1" in bytes(other.call("INFO", "clients").value):
                    break
            else:
                raise AssertionError("WAIT did not block")
            assert other.call("CLIENT", "UNBLOCK", str(wid)).value == 1
            assert waiter.read() == (":", 0)
            waiter.send("WAIT", "1", "20")
            assert waiter.read() == (":", 0)
        finally:
            waiter.close()
            other.close()
