"""Requests ready in the same loop turn share one lookup and one model call, and each gets the
answer it would get alone; one request's bad input fails only that request."""

from __future__ import annotations

import asyncio

import pytest
from mlflow import MlflowClient

from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore
from churnops.serving.batching import RowScorer
from churnops.serving.config import FeatureLookupConfig, ServedEntityConfig
from churnops.serving.lookup import FeatureLookupSpec, OnlineFeatureLookup, RequestError
from churnops.serving.served import ServedModel
from tests.serving.conftest import TABLE


@pytest.fixture(scope="module")
def scorer(serving_world):
    entity = ServedEntityConfig(name="champion", entity_name="churn", entity_version="1")
    model = ServedModel.load(entity, MlflowClient())
    store = SQLiteOnlineStore(serving_world.online_path)
    spec = FeatureLookupSpec.from_config(FeatureLookupConfig(table=TABLE), model.columns)
    yield RowScorer(model, OnlineFeatureLookup(spec, store))
    store.close()


def _requests(world) -> list[list[dict]]:
    ids = world.customers
    return [
        [{"customer_id": ids[0]}],
        [{"customer_id": ids[1]}, {"customer_id": "no-such"}, {"customer_id": ids[2]}],
        [{"customer_id": ids[3], "total_orders": 50.0}],
    ]


def test_concurrent_requests_share_one_model_call(scorer, serving_world, monkeypatch):
    alone = [scorer.score_now(rows) for rows in _requests(serving_world)]
    calls = []
    predict = scorer.model.predict
    monkeypatch.setattr(
        scorer.model, "predict", lambda rows: calls.append(len(rows)) or predict(rows)
    )

    async def together():
        return await asyncio.gather(*(scorer.score(r) for r in _requests(serving_world)))

    batched = asyncio.run(together())
    assert calls == [4]  # 5 rows, one unknown customer: one call for the 4 found
    assert batched == alone
    assert batched[1][1] == 1 and "no-such" in batched[1][0][1]["error"]


def test_completed_rows_come_back_for_the_log(scorer, serving_world):
    requests = _requests(serving_world)

    async def together():
        await asyncio.gather(*(scorer.score(r) for r in requests))

    asyncio.run(together())
    assert "total_spent" in requests[0][0] and requests[2][0]["total_orders"] == 50.0


def test_bad_request_in_a_batch_fails_alone(scorer, serving_world):
    good = [{"customer_id": serving_world.customers[0]}]
    bad = [{"total_orders": 1.0}]  # no features and no key to look them up by

    async def together():
        return await asyncio.gather(scorer.score(good), scorer.score(bad), return_exceptions=True)

    first, second = asyncio.run(together())
    assert first == scorer.score_now([{"customer_id": serving_world.customers[0]}])
    assert isinstance(second, RequestError) and "no 'customer_id'" in str(second)
