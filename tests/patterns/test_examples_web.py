"""The web examples run as documented and show what they claim (embedded server)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str) -> str:
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("name,expect", [
    ("web_flask.py", ['{"user":"alice","visits":3}', "429"]),
    ("web_fastapi.py", ["'user': 'bob'", 'RateLimit: "5-per-1s";r=', "429"]),
    ("web_django.py", ["{'visits': 3}", "429 Too Many Requests"]),
])
def test_web_example(name, expect):
    pytest.importorskip(name.split("_")[1].split(".")[0])
    text = run(name)
    for e in expect:
        assert e in text, text
