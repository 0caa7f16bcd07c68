"""Online feature lookup for requests that carry only the key.

`FeatureLookupSpec` says which online table, key and features a model needs; today it is built
from the endpoint YAML (`from_config`), and issue 5's model feature spec can build the same
object from the model. `OnlineFeatureLookup` fills each row from the online store; features sent
in the request override stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnops.data.feature_store.online import OnlineStore, get_online_store
from churnops.serving.config import FeatureLookupConfig
from churnops.serving.errors import RequestError

__all__ = ["FeatureLookupSpec", "OnlineFeatureLookup", "RequestError"]


@dataclass(frozen=True)
class FeatureLookupSpec:
    """One online feature table a model reads by key."""

    table: str
    lookup_key: str
    feature_names: tuple[str, ...]
    on_missing: str = "error"  # error | defaults
    defaults: dict[str, float | None] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: FeatureLookupConfig, model_columns: list[str]) -> FeatureLookupSpec:
        """The spec the YAML describes; `features` defaults to the model's input columns."""
        names = tuple(cfg.features or [c for c in model_columns if c != cfg.lookup_key])
        return cls(cfg.table, cfg.lookup_key, names, cfg.on_missing, dict(cfg.defaults))


class OnlineFeatureLookup:
    """Complete request rows with features read from an online store, one batch read per request."""

    def __init__(self, spec: FeatureLookupSpec, store: OnlineStore):
        self.spec = spec
        self.store = store
        self._wanted = frozenset(spec.feature_names)

    @classmethod
    def from_config(cls, cfg: FeatureLookupConfig, model_columns: list[str]) -> OnlineFeatureLookup:
        return cls(FeatureLookupSpec.from_config(cfg, model_columns), get_online_store(cfg.online))

    def complete(self, rows: list[dict[str, Any]]) -> list[str | None]:
        """Fill missing features (each such row is replaced in `rows`); return per-row errors.

        An error is None where the row is whole. A row that lacks features and has no key is bad
        input (`RequestError`). An unknown key gets an error message or the configured defaults,
        by `on_missing`.
        """
        spec = self.spec
        errors: list[str | None] = [None] * len(rows)
        need: dict[int, Any] = {}
        wanted = self._wanted
        for i, row in enumerate(rows):
            if row.keys() >= wanted:
                continue
            key = row.get(spec.lookup_key)
            if key is None:
                missing = [f for f in spec.feature_names if f not in row]
                raise RequestError(
                    f"row {i}: missing features {missing[:5]}{'...' if len(missing) > 5 else ''} "
                    f"and no {spec.lookup_key!r} to look them up by"
                )
            # Keys are strings in the canonical schema; `12` and `"12"` name one customer.
            need[i] = str(key) if isinstance(key, int) else key
        if not need:
            return errors
        found = self.store.read(spec.table, list(need.values()), list(spec.feature_names)).rows
        for i, key in need.items():
            stored = found.get((key,))
            row = rows[i]
            if stored is None:
                if spec.on_missing == "error":
                    errors[i] = (
                        f"{spec.lookup_key}={key!r} is not in online feature table {spec.table!r}"
                    )
                    continue
                stored = {f: spec.defaults.get(f) for f in spec.feature_names}
            rows[i] = {**stored, **row}  # the request's own values win
        return errors

    def close(self) -> None:
        self.store.close()
