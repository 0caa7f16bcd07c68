"""The journal benchmark runs end to end on a few rows and writes its results page."""

from __future__ import annotations

import json

from churnops.benchmarks import serving_journal


def test_writes_one_row_per_fsync_setting(tmp_path):
    assert serving_journal.main(["--rows", "20", "--results-dir", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "serving_journal.json").read_text())
    assert [r["fsync"] for r in rows] == [False, True]
    assert all(r["logged"] == 20 for r in rows)  # every appended row reached Delta
    assert "load average" in (tmp_path / "serving_journal.md").read_text()
