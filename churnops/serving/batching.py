"""`RowScorer`: online lookup and model scoring for one served model, batched across requests.

Requests that are ready in the same turn of the event loop are scored together: one store read
and one model call for all their rows, then each request gets its own slice back. Nothing waits
on a timer, so a lone request pays one loop turn; under load, the model's fixed cost per call
(sklearn's input checks are most of a single row's time) is paid once per batch. Rows are scored
independently, as every churn model here does, so a row's answer does not depend on its batch.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from churnops.serving.lookup import OnlineFeatureLookup
from churnops.serving.served import ServedModel

Scored = tuple[list[Any], int]  # predictions (a {"error": ...} where a key is unknown), errors


class RowScorer:
    """Complete rows from the online store and score them with `model`."""

    def __init__(self, model: ServedModel, lookup: OnlineFeatureLookup | None):
        self.model = model
        self.lookup = lookup
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future]] = []

    def score_now(self, rows: list[dict[str, Any]], params: dict[str, Any] | None = None) -> Scored:
        """Look up and score `rows` (rows that lacked features are replaced, completed)."""
        preds, errors = self._score(rows, params)
        return preds, len(errors) - errors.count(None) if errors else 0

    def _score(
        self, rows: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> tuple[list[Any], list[str | None] | None]:
        errors = self.lookup.complete(rows) if self.lookup is not None else None
        predict = self.model.predict
        if params:
            predict = functools.partial(predict, params=params)
        if errors is None or not any(errors):
            return predict(rows), None
        ok = [r for r, e in zip(rows, errors, strict=True) if e is None]
        preds = predict(ok) if ok else []
        it = iter(preds)
        return [next(it) if e is None else {"error": e} for e in errors], errors

    async def score(
        self, rows: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> Scored:
        """`score_now`, batched with the other requests ready in this turn of the loop.

        A request with its own `params` is scored alone: a batch shares one model call.
        """
        if params:
            return self.score_now(rows, params)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((rows, future))
        if len(self._pending) == 1:
            loop.call_soon(self._run)  # after the handlers already queued in this turn
        return await future

    def _run(self) -> None:
        batch, self._pending = self._pending, []
        if len(batch) == 1:
            self._answer(*batch[0])
            return
        merged = [row for rows, _ in batch for row in rows]
        try:
            preds, errors = self._score(merged)
        except Exception:
            # One request's bad rows must not fail the others: each is scored on its own and
            # gets its own answer or error, as without batching.
            for rows, future in batch:
                self._answer(rows, future)
            return
        start = 0
        for rows, future in batch:
            end = start + len(rows)
            rows[:] = merged[start:end]  # the completed rows, for the inference log
            missing = end - start - errors[start:end].count(None) if errors else 0
            if not future.done():
                future.set_result((preds[start:end], missing))
            start = end

    def _answer(self, rows: list[dict[str, Any]], future: asyncio.Future) -> None:
        try:
            result = self.score_now(rows)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
