"""Whoever creates an engine stops it: the refresh and the decision stop the engine they made,
even when they fail, and leave an engine the caller passed running."""

from __future__ import annotations

import pytest

import churnops.monitoring.engine as engine_module
from churnops.data.engines import get_engine
from churnops.monitoring.analysis.decision import decide_retraining
from churnops.monitoring.config import MonitorConfig
from churnops.monitoring.engine import monitor_engine
from churnops.monitoring.refresh.run import refresh_monitor
from tests.monitoring.scenarios import predictions, write


def spy_engine(setting):
    """A real engine that records being stopped."""
    engine = get_engine(setting)
    stop = engine.stop

    def recorded_stop():
        engine.stopped = True
        stop()

    engine.stopped = False
    engine.stop = recorded_stop
    return engine


@pytest.fixture
def created(monkeypatch):
    """The engines monitoring creates, in order."""
    made: list = []

    def spy(setting):
        made.append(spy_engine(setting))
        return made[-1]

    monkeypatch.setattr(engine_module, "get_engine", spy)
    return made


def test_a_created_engine_is_stopped_even_on_error_and_a_passed_one_is_not(created):
    with pytest.raises(RuntimeError), monitor_engine("duckdb"):
        raise RuntimeError("the work failed")
    assert [e.stopped for e in created] == [True]
    passed = spy_engine("duckdb")
    with monitor_engine("duckdb", passed) as running:
        assert running is passed
    assert not passed.stopped and len(created) == 1


def test_refresh_and_decision_stop_the_engine_they_made_and_not_the_callers(tmp_path, created):
    write(tmp_path / "preds", predictions(3, 50, seed=5))
    cfg = MonitorConfig(table=str(tmp_path / "preds"), output_dir=str(tmp_path / "out"))
    refresh_monitor(cfg)
    decide_retraining(cfg, record=False)
    assert [e.stopped for e in created] == [True, True]
    passed = spy_engine("duckdb")
    refresh_monitor(cfg, engine=passed, full=True)
    decide_retraining(cfg, passed, record=False)
    assert not passed.stopped and len(created) == 2
