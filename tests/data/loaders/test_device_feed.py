"""The producer thread and the threaded row-group reads: same rows, same order, errors carried."""

from __future__ import annotations

import threading

import pytest
import torch
from loader_cases import FEATURES, LABEL, ROWS, epoch_ids

from churnops.data.loaders import make_loader
from churnops.data.loaders.device_feed import prefetch_to_device


def _stream(path, **kw):
    kw.setdefault("batch_size", 64)
    return make_loader("arrow-stream", path, FEATURES, LABEL, seed=3, **kw)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_threads_and_prefetch_keep_rows_and_order(training_set, threads, prefetch):
    # The reference: one reader thread, batches made on the training thread.
    plain = _stream(training_set, reader_threads=1, prefetch_batches=0)
    loader = _stream(training_set, reader_threads=threads, prefetch_batches=prefetch)
    for _ in range(2):  # two epochs, each reshuffled the same way in both
        want = epoch_ids(plain)
        got = epoch_ids(loader)
        assert sorted(got) == list(range(ROWS))
        assert got == want  # the order stays a function of the seed and the epoch


def test_two_ranks_with_threads_cover_every_row_once(training_set):
    ranks = [
        _stream(training_set, rank=r, world_size=2, reader_threads=4, prefetch_batches=2)
        for r in (0, 1)
    ]
    ids = epoch_ids(ranks[0]) + epoch_ids(ranks[1])
    assert sorted(ids) == list(range(ROWS))


def test_the_producer_runs_on_its_own_thread():
    seen: list[str] = []

    def batches():
        for i in range(5):
            seen.append(threading.current_thread().name)
            yield torch.full((2, 1), float(i)), torch.zeros(2)

    got = [int(x[0, 0]) for x, _ in prefetch_to_device(batches(), "cpu", depth=2)]
    assert got == [0, 1, 2, 3, 4]
    assert set(seen) == {"churnops-prefetch"}


def test_a_producer_error_reaches_the_consumer():
    def batches():
        yield torch.zeros(2, 1), torch.zeros(2)
        raise OSError("row group 7 is corrupt")

    feed = prefetch_to_device(batches(), "cpu")
    next(feed)
    with pytest.raises(OSError, match="row group 7 is corrupt"):
        next(feed)


def test_stopping_early_stops_the_producer():
    produced = []

    def batches():
        for i in range(1000):
            produced.append(i)
            yield torch.zeros(1, 1), torch.zeros(1)

    feed = prefetch_to_device(batches(), "cpu", depth=2)
    next(feed)
    feed.close()  # what a `break` out of the loop does
    assert not any(t.name == "churnops-prefetch" for t in threading.enumerate())
    assert len(produced) < 10  # it stopped within the queue's depth, not at the end


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reader_threads": 0}, r"reader_threads=0: expected an integer >= 1"),
        ({"prefetch_batches": -1}, r"prefetch_batches=-1: expected an integer >= 0"),
        ({"prefetch_batches": 1.5}, r"prefetch_batches=1.5: expected an integer >= 0"),
    ],
)
def test_bad_thread_options_are_named(training_set, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _stream(training_set, **kwargs)


def test_bad_depth_is_named():
    with pytest.raises(ValueError, match=r"depth=0: expected an integer >= 1"):
        list(prefetch_to_device([], "cpu", depth=0))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_feed_is_refused_without_cuda():
    with pytest.raises(ValueError, match=r"device='cuda': CUDA is not available"):
        list(prefetch_to_device([], "cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pinned_async_copies_deliver_every_row_on_the_gpu(training_set):
    # Small batches, a shallow ring: slots are refilled many times while copies are in flight.
    loader = _stream(training_set, device="cuda", batch_size=16, prefetch_batches=1)
    plain = _stream(training_set, batch_size=16, prefetch_batches=0)
    got = []
    for x, y in loader:
        assert x.is_cuda and y.is_cuda
        got.append((x.cpu(), y.cpu()))
    want = list(plain)
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        assert torch.equal(gx, wx) and torch.equal(gy, wy)
