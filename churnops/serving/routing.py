"""`TrafficRouter`: picks the served entity for a request from the configured percentages.

Sticky mode hashes the routing key (the customer) into 10,000 buckets, so a customer always
meets the same model while the split holds; random mode draws per request.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from typing import Any

from churnops.serving.config import EndpointConfig

BUCKETS = 10_000


class TrafficRouter:
    """Route requests to served entities by percentage, sticky by key or random."""

    def __init__(
        self, routes: list[tuple[str, int]], mode: str = "sticky", seed: int | None = None
    ):
        self.routes = [(n, p) for n, p in routes if p > 0]
        if not self.routes:
            raise ValueError("routes: expected at least one route with traffic_percentage > 0")
        self.mode = mode
        self._names = [n for n, _ in self.routes]
        bounds, acc = [], 0
        for _, pct in self.routes:
            acc += pct * BUCKETS // 100
            bounds.append(acc)
        self._bounds = bounds
        self._rng = random.Random(seed)

    @classmethod
    def from_config(cls, cfg: EndpointConfig) -> TrafficRouter:
        routes = [(r.served_model_name, r.traffic_percentage) for r in cfg.traffic_config.routes]
        return cls(routes, cfg.routing.mode, cfg.routing.seed)

    @staticmethod
    def bucket(key: Any) -> int:
        """The key's bucket in [0, BUCKETS): stable across processes (not Python's hash)."""
        digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % BUCKETS

    def choose(self, key: Any = None) -> str:
        """The served entity for a request whose routing key is `key` (None: random)."""
        if self.mode == "sticky" and key is not None:
            b = self.bucket(key)
        else:
            b = self._rng.randrange(BUCKETS)
        return self._names[min(bisect.bisect_right(self._bounds, b), len(self._names) - 1)]

    def choose_many(self, keys: list[Any]) -> list[str]:
        """`choose` for each key, in order: one pass, for a request's many customers."""
        if len(self._names) == 1:
            return [self._names[0]] * len(keys)
        if self.mode != "sticky":
            return [self.choose() for _ in keys]
        last, bounds, names = len(self._names) - 1, self._bounds, self._names
        out = []
        for key in keys:
            if key is None:
                b = self._rng.randrange(BUCKETS)
            else:  # `bucket`, inlined: a call per row costs as much as the hash
                digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
                b = int.from_bytes(digest, "little") % BUCKETS
            out.append(names[min(bisect.bisect_right(bounds, b), last)])
        return out
