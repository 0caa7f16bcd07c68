"""Whoever creates an engine stops it: `engine_for` stops the engine it made, even when the work
fails, and leaves an engine the caller passed running."""

from __future__ import annotations

import pytest

from churnops.data.engines import engine_for
from tests.fixtures.engines import spy_engine


def test_a_created_engine_is_stopped_even_on_error_and_a_passed_one_is_not(created_engines):
    with pytest.raises(RuntimeError), engine_for("duckdb"):
        raise RuntimeError("the work failed")
    assert [e.stopped for e in created_engines] == [True]
    passed = spy_engine("duckdb")
    with engine_for("duckdb", passed) as running:
        assert running is passed
    assert not passed.stopped and len(created_engines) == 1
