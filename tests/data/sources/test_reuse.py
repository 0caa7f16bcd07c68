"""Cleaned orders written once: later steps link to the clean file instead of cleaning again."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from churnops.data.sources import SourceConfig, prepare_orders
from churnops.data.sources import reuse as reuse_mod

CSV = "customer_id,order_date,amount,quantity\na,2020-01-01,10.0,1\nb,2020-01-02,5.0,2\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(reuse_mod.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def cleanings(monkeypatch):
    """How many times the cleaning itself ran (the real one, counted)."""
    import churnops.data.sources as sources

    calls = []
    real = sources.clean_orders

    def counted(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(sources, "clean_orders", counted)
    return calls


def test_a_second_step_links_to_the_first_steps_clean_orders(tmp_path, cache, cleanings):
    source = tmp_path / "orders.csv"
    source.write_text(CSV)
    cfg = SourceConfig(kind="csv", path=str(source))
    first = prepare_orders(cfg, tmp_path / "features" / "orders.parquet")
    mtime = (tmp_path / "features" / "orders.parquet").stat().st_mtime_ns
    second = prepare_orders(cfg, tmp_path / "training" / "orders.parquet")
    again = prepare_orders(cfg, tmp_path / "features" / "orders.parquet")
    assert len(cleanings) == 1
    assert second.orders == first.orders == again.orders == 2
    assert os.path.samefile(
        tmp_path / "features/orders.parquet", tmp_path / "training/orders.parquet"
    )
    assert (tmp_path / "features" / "orders.parquet").stat().st_mtime_ns == mtime
    assert pq.read_table(tmp_path / "training" / "orders.parquet").num_rows == 2
    assert (tmp_path / "training" / "orders.report.json").exists()


def test_a_changed_source_or_config_is_cleaned_again(tmp_path, cache, cleanings):
    source = tmp_path / "orders.csv"
    source.write_text(CSV)
    out = tmp_path / "out" / "orders.parquet"
    prepare_orders(SourceConfig(kind="csv", path=str(source)), out)
    source.write_text(CSV + "c,2020-01-03,7.0,1\n")
    assert prepare_orders(SourceConfig(kind="csv", path=str(source)), out).orders == 3
    prepare_orders(SourceConfig(kind="csv", path=str(source), date_format="%Y-%m-%d"), out)
    assert len(cleanings) == 3


def test_rejects_travel_with_the_reused_file(tmp_path, cache, cleanings):
    source = tmp_path / "orders.csv"
    source.write_text(CSV + "c,not-a-date,1.0,1\n")
    cfg = SourceConfig(kind="csv", path=str(source))
    prepare_orders(cfg, tmp_path / "a" / "orders.parquet")
    report = prepare_orders(cfg, tmp_path / "b" / "orders.parquet")
    assert len(cleanings) == 1
    assert report.rows_rejected == 1
    assert report.rejects_path == str(tmp_path / "b" / "orders.rejects.parquet")
    assert pq.read_table(report.rejects_path).num_rows == 1


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch, cleanings):
    monkeypatch.setenv(reuse_mod.CACHE_ENV, "off")
    source = tmp_path / "orders.csv"
    source.write_text(CSV)
    cfg = SourceConfig(kind="csv", path=str(source))
    prepare_orders(cfg, tmp_path / "a" / "orders.parquet")
    prepare_orders(cfg, tmp_path / "b" / "orders.parquet")
    assert len(cleanings) == 2
    assert not os.path.samefile(tmp_path / "a/orders.parquet", tmp_path / "b/orders.parquet")


def test_a_source_with_nothing_accepted_is_never_cached(tmp_path, cache, cleanings):
    from churnops.data.sources import SourceError

    source = tmp_path / "orders.csv"
    source.write_text("customer_id,order_date,amount,quantity\na,never,1.0,1\n")
    cfg = SourceConfig(kind="csv", path=str(source))
    for _ in range(2):
        with pytest.raises(SourceError, match="every row was rejected"):
            prepare_orders(cfg, tmp_path / "out" / "orders.parquet")
    assert len(cleanings) == 2
    assert not list(cache.glob("*.parquet"))
