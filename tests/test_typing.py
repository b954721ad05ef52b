"""mypy --strict on the typed modules (the ``[tool.mypy]`` section of pyproject.toml
lists them), so the test command checks their types too."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_is_clean():
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_py_typed_ships():
    assert (ROOT / "src" / "vermilion" / "py.typed").exists()
    assert 'vermilion = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()
