"""What a refresh reads: the predictions, labels and baseline tables checked against the config,
and the columns it profiles."""

from __future__ import annotations

import pyarrow as pa

from churnops.data.delta_tables import open_table, table_exists
from churnops.monitoring.config import MonitorConfig

# Columns of the predictions table that describe a row rather than the model's input.
META = {"request_id", "date", "endpoint_name", "served_entity_name", "model_name", "is_shadow"}


def check_inputs(cfg: MonitorConfig) -> None:
    """The tables exist and hold the columns the config names, with usable types: an error that
    names the field, the value and what was expected, before any engine work."""
    schema = table_schema(cfg.table)

    def need(field: str, column: str, table: str, names: list[str]) -> None:
        if column not in names:
            raise ValueError(
                f"{field}={column!r}: expected a column of {table!r}, which has {names}"
            )

    need("timestamp_col", cfg.timestamp_col, cfg.table, schema.names)
    if not pa.types.is_timestamp(schema.field(cfg.timestamp_col).type):
        raise ValueError(
            f"timestamp_col={cfg.timestamp_col!r}: expected a timestamp column, "
            f"got {schema.field(cfg.timestamp_col).type}"
        )
    need("model_id_col", cfg.model_id_col, cfg.table, schema.names)
    need("prediction_proba_col", cfg.prediction_proba_col, cfg.table, schema.names)
    for field, path in (("baseline_table", cfg.baseline_table), ("labels_table", cfg.labels_table)):
        if path and not table_exists(path):
            raise FileNotFoundError(f"{field}={path!r}: no Delta table there")
    if cfg.labels_table:
        need("id_col", cfg.id_col, cfg.table, schema.names)
        labels = table_schema(cfg.labels_table)
        for field in ("id_col", "label_time_col", "label_col"):
            need(field, getattr(cfg, field), cfg.labels_table, labels.names)
        kind = labels.field(cfg.label_col).type
        if not (
            pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind)
        ):
            raise ValueError(
                f"label_col={cfg.label_col!r}: expected 0/1 labels (integer, boolean or float) "
                f"in {cfg.labels_table!r}, got {kind}"
            )
    for i, expr in enumerate(cfg.slicing_exprs):
        words = _identifiers(expr)
        if words and not words & set(schema.names):
            raise ValueError(
                f"slicing_exprs[{i}]={expr!r}: expected an expression over columns of "
                f"{cfg.table!r}, which has {schema.names}"
            )


def _identifiers(expr: str) -> set[str]:
    """The words of a SQL expression outside its string literals (column names among them)."""
    import re

    unquoted = re.sub(r"'(?:[^']|'')*'", "", expr)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", unquoted))


def profiled_columns(cfg: MonitorConfig, schema: pa.Schema) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns to profile: the features, the score and the decision."""
    skip = {*META, cfg.timestamp_col, cfg.model_id_col, cfg.id_col, cfg.label_col}
    names = (
        list(cfg.feature_cols)  # a copy: the config is what the next refresh compares with
        if cfg.feature_cols is not None
        else [n for n in schema.names if n not in skip]
    )
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise ValueError(f"feature_cols {missing}: not columns of table {cfg.table!r}")
    for extra in (cfg.prediction_proba_col, cfg.prediction_col):
        if extra not in names and extra in schema.names:
            names.append(extra)
    numeric, categorical = [], []
    for n in names:
        t = schema.field(n).type
        is_num = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        if n == cfg.prediction_col or n in cfg.categorical_cols or not is_num:
            categorical.append(n)
        else:
            numeric.append(n)
    return numeric, categorical


def table_schema(path: str) -> pa.Schema:
    """The Arrow schema of the Delta table at `path`."""
    return pa.schema(open_table(path).schema().to_arrow())


def table_version(path: str) -> int:
    """The current version of the Delta table at `path`."""
    return int(open_table(path).version())
