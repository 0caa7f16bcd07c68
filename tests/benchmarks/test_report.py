import json
import subprocess
import sys
import time

from churnops.benchmarks.report import kept_rows, results_lock, write_results

APPEND_ONE_ROW = """
import sys
from pathlib import Path
from churnops.benchmarks.report import kept_rows, results_lock, write_results
folder, row = Path(sys.argv[1]), {"model": sys.argv[2], "auc": 0.5}
with results_lock("page", folder):
    write_results("page", [*kept_rows("page", [row], ("model",), folder), row], ["model", "auc"],
                  "t", results_dir=folder)
"""


def test_an_append_waits_for_the_run_holding_the_page_and_keeps_its_rows(tmp_path):
    """Two --append runs sharing a page: the second reads only after the first has written."""
    with results_lock("page", tmp_path):
        other = subprocess.Popen([sys.executable, "-c", APPEND_ONE_ROW, str(tmp_path), "xgboost"])
        time.sleep(1.0)
        assert other.poll() is None and not (tmp_path / "page.json").exists()  # it waits
        mine = {"model": "mlp", "auc": 0.6}
        write_results("page", [mine], ["model", "auc"], "t", results_dir=tmp_path)
    assert other.wait(timeout=60) == 0
    rows = json.loads((tmp_path / "page.json").read_text())
    assert [r["model"] for r in rows] == ["mlp", "xgboost"]  # the first run's row kept
    assert kept_rows("page", [], ("model",), tmp_path) == rows


def test_a_page_is_written_whole_with_nothing_left_beside_it(tmp_path):
    write_results("page", [{"model": "mlp"}], ["model"], "t", results_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.json", "page.md"]
