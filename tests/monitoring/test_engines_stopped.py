"""The refresh and the decision stop the engine they made, even when they fail, and leave an
engine the caller passed running."""

from __future__ import annotations

from churnops.monitoring.analysis.decision import decide_retraining
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.refresh.run import refresh_monitor
from tests.fixtures.engines import spy_engine
from tests.monitoring.synthetic_tables import predictions, write


def test_refresh_and_decision_stop_the_engine_they_made_and_not_the_callers(
    tmp_path, created_engines
):
    write(tmp_path / "preds", predictions(3, 50, seed=5))
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"))
    refresh_monitor(cfg)
    decide_retraining(cfg, record=False)
    assert [e.stopped for e in created_engines] == [True, True]
    passed = spy_engine("duckdb")
    refresh_monitor(cfg, engine=passed, full=True)
    decide_retraining(cfg, passed, record=False)
    assert not passed.stopped and len(created_engines) == 2
