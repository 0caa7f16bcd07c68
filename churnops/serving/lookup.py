"""Online feature lookup for requests that carry only the key.

The lookup itself is `churnops.models.online_lookup.RowLookup`, the one the pyfunc uses too.
Its tables come from the served model's own feature spec when it is a churnops model with
lookups (`FeatureLookupSpec.from_model`), else from the endpoint YAML (`from_config`, for
stock flavours that carry no spec). `OnlineFeatureLookup` answers bad input as `RequestError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnops.data.feature_store.online import OnlineStore
from churnops.models.feature_spec import FeatureSpecError
from churnops.models.online_lookup import RowLookup, TableLookup, lookups_of
from churnops.serving.config import FeatureLookupConfig
from churnops.serving.errors import RequestError

__all__ = ["FeatureLookupSpec", "OnlineFeatureLookup", "RequestError"]


@dataclass(frozen=True)
class FeatureLookupSpec:
    """The online tables a model reads by key, and what an unknown key gets."""

    tables: tuple[TableLookup, ...]
    on_missing: str = "error"  # error | defaults
    defaults: dict[str, float | None] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: FeatureLookupConfig, model_columns: list[str]) -> FeatureLookupSpec:
        """The table the YAML describes; `features` defaults to the model's input columns."""
        names = cfg.features or [c for c in model_columns if c != cfg.lookup_key]
        table = TableLookup(cfg.table, (cfg.lookup_key,), {n: n for n in names}, dict(cfg.defaults))
        return cls((table,), cfg.on_missing, dict(cfg.defaults))

    @classmethod
    def from_model(cls, spec: Any, cfg: FeatureLookupConfig) -> FeatureLookupSpec:
        """The model's own feature-spec lookups; the YAML's `defaults` override the spec's."""
        tables = tuple(
            TableLookup(t.table, t.keys, t.outputs, {**t.defaults, **cfg.defaults})
            for t in lookups_of(spec)
        )
        return cls(tables, cfg.on_missing, dict(cfg.defaults))

    @property
    def table_names(self) -> list[str]:
        return [t.table for t in self.tables]


class OnlineFeatureLookup:
    """Complete request rows from an online store, one batch read per table and request."""

    def __init__(self, spec: FeatureLookupSpec, store: OnlineStore):
        self.spec = spec
        self.store = store
        self._rows = RowLookup(list(spec.tables), store, spec.on_missing)

    def complete(self, rows: list[dict[str, Any]]) -> list[str | None]:
        """Fill missing features (each such row is replaced in `rows`); return per-row errors.

        An error is None where the row is whole. A row that lacks features and has no key is bad
        input (`RequestError`). An unknown key gets an error message or the defaults, by
        `on_missing`.
        """
        try:
            return self._rows.complete(rows)
        except FeatureSpecError as exc:
            raise RequestError(str(exc)) from None

    def close(self) -> None:
        self.store.close()
