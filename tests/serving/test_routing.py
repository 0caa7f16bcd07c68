"""TrafficRouter: the split holds within a point over 10k requests; sticky keys stay put."""

from __future__ import annotations

from collections import Counter

import pytest

from churnops.serving.routing import TrafficRouter

ROUTES = [("champion", 80), ("challenger", 20)]


@pytest.mark.parametrize("mode", ["sticky", "random"])
def test_split_within_one_point_over_10k(mode):
    router = TrafficRouter(ROUTES, mode=mode, seed=7)
    counts = Counter(router.choose(f"{i:05d}") for i in range(10_000))
    assert abs(counts["champion"] / 10_000 - 0.80) <= 0.01
    assert abs(counts["challenger"] / 10_000 - 0.20) <= 0.01


def test_three_way_split():
    router = TrafficRouter([("a", 50), ("b", 30), ("c", 20)], mode="sticky")
    counts = Counter(router.choose(f"cust-{i}") for i in range(10_000))
    for name, pct in [("a", 50), ("b", 30), ("c", 20)]:
        assert abs(counts[name] / 100 - pct) <= 1


def test_sticky_is_stable_and_random_is_not():
    sticky = TrafficRouter(ROUTES, mode="sticky")
    again = TrafficRouter(ROUTES, mode="sticky")  # a new process sees the same buckets
    keys = [f"{i:05d}" for i in range(500)]
    assert [sticky.choose(k) for k in keys] == [again.choose(k) for k in keys]
    rand = TrafficRouter(ROUTES, mode="random", seed=1)
    assert len({rand.choose("00001") for _ in range(200)}) == 2


def test_zero_percent_route_gets_nothing():
    router = TrafficRouter([("a", 100), ("b", 0)], mode="random", seed=3)
    assert {router.choose() for _ in range(1000)} == {"a"}


def test_sticky_without_key_falls_back_to_random():
    router = TrafficRouter(ROUTES, mode="sticky", seed=5)
    assert len({router.choose(None) for _ in range(200)}) == 2


@pytest.mark.parametrize("routes", [ROUTES, [("a", 50), ("b", 30), ("c", 20)], [("a", 100)]])
def test_choose_many_routes_each_key_as_choose_does(routes):
    router = TrafficRouter(routes, mode="sticky")
    keys = [f"cust-{i}" for i in range(2000)] + [12, 12.5]
    assert router.choose_many(keys) == [router.choose(k) for k in keys]
    keyless = TrafficRouter(routes, mode="sticky", seed=5).choose_many([None] * 400)
    assert set(keyless) == {name for name, _ in routes}  # no key: drawn, as `choose` draws
