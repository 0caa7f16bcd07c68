"""Synthetic orders at any scale: heavy-tailed purchase rates, seasonality and a churn hazard.

Customers buy at a Gamma-distributed rate (a few buy a lot, most rarely), more around December,
until they drop out after an exponential lifetime that is longer for frequent buyers, so recency
and frequency carry real churn signal. Customers are generated in fixed blocks, each from its own
seeded stream, so the output depends on the seed alone; blocks stream to Parquet, so 100 M orders
never sit in memory at once.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churnops.data.schema import ORDERS_SCHEMA
from churnops.data.sources.config import SourceConfig

START = date(2023, 1, 1)
DAYS = 3 * 365
BLOCK = 20_000  # customers per block; part of the seed contract, so never change it lightly
MEAN_RATE = 1 / 30  # orders per day, the population mean


def _seasonal_cumulative() -> np.ndarray:
    """Cumulative purchase intensity by day: 1 +- 0.4, peaking in mid-December."""
    days = np.arange(DAYS)
    doy = np.array([(START + timedelta(int(d))).timetuple().tm_yday for d in days])
    intensity = 1.0 + 0.4 * np.cos(2 * np.pi * (doy - 350) / 365.25)
    return np.concatenate([[0.0], np.cumsum(intensity)])


def generate_block(seed: int, block: int, n_customers: int = BLOCK) -> pa.Table:
    """Orders of customers [block * BLOCK, block * BLOCK + n_customers), canonical schema."""
    rng = np.random.default_rng([seed, block])
    cum = _seasonal_cumulative()
    first = rng.integers(0, 2 * 365, n_customers)  # acquisition day
    rate = rng.gamma(shape=0.5, scale=MEAN_RATE / 0.5, size=n_customers)
    lifetime = rng.exponential(40 + 250 * np.sqrt(rate / MEAN_RATE))
    last = np.minimum(first + lifetime, DAYS - 1).astype(np.int64)
    extra = rng.poisson(rate * (cum[last + 1] - cum[first]))
    counts = 1 + extra

    cust = np.repeat(np.arange(n_customers), counts)
    starts = np.cumsum(counts) - counts
    is_first = np.zeros(len(cust), dtype=bool)
    is_first[starts] = True
    lo, hi = cum[first][cust], cum[last + 1][cust]
    u = lo + rng.random(len(cust)) * (hi - lo)
    day = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, DAYS - 1)
    day[is_first] = first[cust[is_first]]

    spend = rng.lognormal(np.log(35), 0.5, n_customers)
    amount = np.round(spend[cust] * rng.lognormal(0, 0.3, len(cust)), 2)
    quantity = 1 + rng.poisson(spend[cust] / 25)

    # One order per customer and day: merge same-day draws, as CDNOW's log does.
    key = cust.astype(np.int64) * DAYS + day
    order = np.argsort(key, kind="stable")
    key, amount, quantity = key[order], amount[order], quantity[order]
    uniq, idx = np.unique(key, return_index=True)
    amount = np.round(np.add.reduceat(amount, idx), 2)
    quantity = np.add.reduceat(quantity, idx)
    cust, day = uniq // DAYS, uniq % DAYS

    ids = pc.utf8_lpad(pa.array(cust + block * BLOCK).cast(pa.string()), 9, "0")
    customer_id = pc.binary_join_element_wise("S", ids, "")
    order_date = pa.array(day.astype(np.int32) + (START - date(1970, 1, 1)).days, pa.date32())
    day_text = pc.strftime(order_date.cast(pa.timestamp("s")), "%Y%m%d")
    return pa.table(
        {
            "customer_id": customer_id,
            "order_id": pc.binary_join_element_wise(customer_id, day_text, ":"),
            "order_date": order_date,
            "amount": pa.array(amount, pa.float64()),
            "quantity": pa.array(quantity, pa.int64()),
        },
        schema=ORDERS_SCHEMA,
    )


def generate_orders(
    path: str | Path, customers: int | None = None, orders: int | None = None, seed: int = 0
) -> int:
    """Stream synthetic orders to one Parquet file; return the number of orders written.

    Give `customers`, or `orders` (generation stops at the first customer boundary at or past
    it). The file appears only when complete.
    """
    if (customers is None) == (orders is None):
        raise ValueError("generate_orders: give exactly one of customers=N or orders=N")
    target_customers = customers if customers is not None else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    written = block = done_customers = 0
    try:
        with pq.ParquetWriter(tmp, ORDERS_SCHEMA) as writer:
            while True:
                n = BLOCK
                if target_customers is not None:
                    n = min(BLOCK, target_customers - done_customers)
                    if n <= 0:
                        break
                table = generate_block(seed, block, BLOCK)
                if n < BLOCK:  # keep the first n customers of the block, whole
                    table = table.filter(pc.less(table["customer_id"], _customer_id(block, n)))
                if orders is not None and written + len(table) >= orders:
                    table = _trim_to_customer_boundary(table, orders - written)
                writer.write_table(table, row_group_size=1 << 20)
                written += len(table)
                done_customers += n
                block += 1
                if orders is not None and written >= orders:
                    break
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _customer_id(block: int, offset: int) -> str:
    return f"S{block * BLOCK + offset:09d}"


def _trim_to_customer_boundary(table: pa.Table, needed: int) -> pa.Table:
    """First rows covering `needed` orders, extended to the end of the last customer's orders."""
    ids = table["customer_id"]
    last = ids[needed - 1].as_py()
    end = needed
    while end < len(table) and ids[end].as_py() == last:
        end += 1
    return table.slice(0, end)


def ensure_synthetic(cfg: SourceConfig, root: str | Path = ".churnops/synthetic") -> SourceConfig:
    """Generate the configured synthetic orders unless they exist; return a config to read them."""
    if cfg.customers is None and cfg.orders is None:
        raise ValueError("synthetic source: set 'customers' or 'orders' (a positive count)")
    size = f"c{cfg.customers}" if cfg.customers else f"o{cfg.orders}"
    path = Path(cfg.path) if cfg.path else Path(root) / f"orders-{size}-seed{cfg.seed}.parquet"
    if not path.exists():
        generate_orders(path, customers=cfg.customers, orders=cfg.orders, seed=cfg.seed)
    return cfg.model_copy(update={"path": str(path)})
