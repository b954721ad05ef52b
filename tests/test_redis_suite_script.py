"""scripts/redis-suite's own bookkeeping: `--update UNIT` rewrites that unit's test lines in the
expectations file and leaves everything else as it was, comments included."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from support import IN_CI

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "redis-suite")
EXPECTATIONS = os.path.join(REPO, "tests", "redis-suite", "expectations.txt")


def sections(text: str) -> dict[str, list[str]]:
    """The file's lines grouped by unit: comments directly above a header belong to that
    unit, comments followed by test lines to the unit of those lines."""
    out: dict[str, list[str]] = {"": []}
    pending: list[str] = []
    cur = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            cur = line.split()[0]
            out[cur] = pending + [line]
            pending = []
        elif line.startswith("#") and cur:
            pending.append(line)
        else:
            out[cur] += pending + [line]
            pending = []
    out[cur] += pending
    return out


def header_of(text: str, unit: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"[{unit}] "))


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_update_keeps_other_units_and_every_comment(tmp_path):
    original = open(EXPECTATIONS, encoding="utf-8").read()
    # Comments in three places the script must keep: above a unit, inside a unit other than
    # the one updated, and inside the unit updated.
    # (Header lines are found by their unit: their recorded seconds change with every update.)
    limits = header_of(original, "unit/limits")
    info_command = header_of(original, "unit/info-command")
    text = original.replace("[unit/keyspace]", "# about keyspace, above it\n[unit/keyspace]", 1)
    text = text.replace(limits + "\n", limits + "\n# inside limits\n", 1)
    # The unit updated starts with a wrong line, which the run replaces.
    text = text.replace(info_command + "\n",
                        "# why info-command is here\n"
                        + info_command + "\n"
                        "# inside info-command\n"
                        "fail\tno such test\tnot implemented: nothing\n", 1)
    assert text.count("# about keyspace") == text.count("# inside limits") == 1
    assert text.count("# inside info-command") == 1
    path = tmp_path / "expectations.txt"
    path.write_text(text, encoding="utf-8")

    # The script fetches Redis's tree (apt-get source) and tools itself the first time;
    # without them it fails in CI and skips elsewhere.
    r = subprocess.run([sys.executable, SCRIPT, "--update", "info-command",
                        "--expectations", str(path)],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
    if "redis-suite: skipped:" in r.stderr and not IN_CI:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    after = path.read_text(encoding="utf-8")

    assert comments(after) == comments(text)
    before_s, after_s = sections(text), sections(after)
    assert before_s.keys() == after_s.keys()
    for unit in before_s:
        if unit != "[unit/info-command]":
            assert after_s[unit] == before_s[unit], unit
    updated = after_s["[unit/info-command]"]
    assert updated[:3] == ["# why info-command is here", updated[1], "# inside info-command"]
    assert updated[1].startswith("[unit/info-command] ci=yes state=complete redis=3 seconds=")
    assert "fail\tno such test\tnot implemented: nothing" not in updated
    assert [line for line in updated if line.startswith("ok\t")] == \
        [line for line in before_s["[unit/info-command]"] if line.startswith("ok\t")]


def test_units_run_side_by_side_each_in_its_own_tree(tmp_path):
    """--jobs 2: two harnesses at once, each in a scratch tree of its own (a harness deletes
    tests/tmp/server.* when it starts), and both units compared with the expectations."""
    path = tmp_path / "expectations.txt"
    path.write_text(open(EXPECTATIONS, encoding="utf-8").read(), encoding="utf-8")
    r = subprocess.run([sys.executable, SCRIPT, "--jobs", "2", "--keep", "info-command",
                        "type/incr", "--expectations", str(path)],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
    if "redis-suite: skipped:" in r.stderr and not IN_CI:
        pytest.skip(r.stderr.strip())
    kept = r.stderr.split("scratch trees kept: ", 1)[1].split()
    try:
        assert r.returncode == 0, r.stderr
        assert "2 at a time" in r.stderr
        assert len(set(kept)) == 2 and all(os.path.isdir(d) for d in kept)
        logs = os.path.join(kept[0], "logs")
        assert sorted(os.listdir(logs)) == ["unit_info-command.log", "unit_type_incr.log"]
        rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()
                if line.startswith("unit/")}
        assert rows["unit/info-command"][1:3] == ["3", "3"]
        assert rows["unit/type/incr"][1:3] == ["23", "23"]
    finally:
        for d in kept:
            shutil.rmtree(d, ignore_errors=True)
