"""The typed part of the package passes ``mypy --strict`` (files listed under
[tool.mypy] in pyproject.toml), and the asyncio face is typed as coroutines."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("mypy") is None and subprocess.run(
            [sys.executable, "-c", "import mypy"], capture_output=True).returncode:
        pytest.fail("mypy is not installed: pip install -e '.[test]'")
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_py_typed_is_shipped():
    assert (ROOT / "src" / "vermilion" / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def test_mypy_strict_is_clean():
    out = _mypy()  # files and strictness come from pyproject.toml
    assert out.returncode == 0, out.stdout + out.stderr


def test_async_face_is_typed_as_coroutines(tmp_path):
    usage = tmp_path / "usage.py"
    usage.write_text(textwrap.dedent("""
        import redis
        import redis.asyncio
        from vermilion.patterns import DeadLetter, Lock, Semaphore, StreamProducer, aio

        async def ok(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
            a: str = StreamProducer(r, "s").add({"a": 1})
            b: str = await aio.StreamProducer(ar, "s").add({"a": 1}, delay=1.0)
            c: int | None = await aio.Lock(ar, "x").acquire()
            d: list[DeadLetter] = await aio.DeadLetters(ar, "s").list()
            e: int | None = Semaphore(r, "q", 2).acquire()
            f: bool = await aio.Semaphore(ar, "q", 2).release()

        async def wrong(ar: redis.asyncio.Redis) -> None:
            x: str = aio.StreamProducer(ar, "s").add({"a": 1})  # not awaited
            y: bool = aio.Lock(ar, "x").release()  # not awaited
    """))
    out = _mypy("--strict", "--follow-imports=silent", str(usage))
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    lines = {int(line.split(":")[1]) for line in errors}
    text = usage.read_text().splitlines()
    wrong = {i + 1 for i, line in enumerate(text) if "# not awaited" in line}
    assert lines == wrong, out.stdout
    assert all("Coroutine" in line for line in errors), out.stdout
