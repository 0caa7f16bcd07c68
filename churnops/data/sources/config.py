"""Config of an orders source: where it is, which format, and how its columns map to ours."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from churnops.config import StrictConfig


class ColumnMapping(StrictConfig):
    """Source column names for each canonical orders column."""

    customer_id: str = "customer_id"
    order_date: str = "order_date"
    amount: str = "amount"
    quantity: str | None = "quantity"  # None: every row counts as quantity 1
    order_id: str | None = None  # None: one order per customer and day, as in CDNOW


class SourceConfig(StrictConfig):
    """An orders source. `kind` picks the reader; `columns` maps the source's names to ours."""

    kind: Literal["cdnow", "csv", "parquet", "delta", "synthetic"] = "cdnow"
    path: str | None = None  # file, folder of Parquet files, or Delta table; None for cdnow
    variant: Literal["master", "sample"] = "master"  # cdnow only: full log or the 1/10 sample
    columns: ColumnMapping = Field(default_factory=ColumnMapping)
    date_format: str | None = None  # strptime format for string dates, e.g. "%Y%m%d"; None: ISO
    delimiter: str = ","  # csv only
    # synthetic only
    customers: int | None = Field(default=None, gt=0)
    orders: int | None = Field(default=None, gt=0)
    seed: int = 0
