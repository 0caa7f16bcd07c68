"""The contract the in-process kinds keep: coverage, sharding, determinism, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from loader_cases import FEATURES, LABEL, ROWS, epoch_ids, write_training_set

from churnops.data.loaders import make_loader

KINDS = ["in-memory", "arrow-stream"]
# arrow-stream also with worker processes: sharding by worker must still cover every row once.
CASES = [("in-memory", {}), ("arrow-stream", {}), ("arrow-stream", {"num_workers": 2})]
CASE_IDS = ["in-memory", "arrow-stream", "arrow-stream-2-workers"]


def _open(kind: str, path: Path, **kw):
    kw.setdefault("batch_size", 64)
    return make_loader(kind, path, FEATURES, LABEL, **kw)


@pytest.mark.parametrize(("kind", "options"), CASES, ids=CASE_IDS)
def test_two_ranks_cover_every_row_once_per_epoch(kind, options, training_set):
    ranks = [_open(kind, training_set, rank=r, world_size=2, seed=7, **options) for r in (0, 1)]
    for _ in range(2):  # two epochs: each one covers the table again
        seen = [epoch_ids(loader) for loader in ranks]
        assert not set(seen[0]) & set(seen[1]), "ranks overlap"
        assert sorted(seen[0] + seen[1]) == list(range(ROWS))
        assert all(len(s) > ROWS // 4 for s in seen), "one rank got almost nothing"


@pytest.mark.parametrize(("kind", "options"), CASES, ids=CASE_IDS)
def test_order_is_fixed_by_seed_and_changes_by_epoch(kind, options, training_set):
    a = _open(kind, training_set, seed=3, **options)
    b = _open(kind, training_set, seed=3, **options)
    other = _open(kind, training_set, seed=4, **options)
    a0, a1 = epoch_ids(a), epoch_ids(a)
    assert a0 == epoch_ids(b)
    assert a1 == epoch_ids(b)
    assert a0 != a1, "the second epoch did not reshuffle"
    assert a0 != epoch_ids(other)
    assert a0 != list(range(ROWS)), "shuffle=True left the file order"
    # set_epoch replays an epoch, as a resumed run needs.
    b.set_epoch(1)
    assert epoch_ids(b) == a1


@pytest.mark.parametrize("kind", KINDS)
def test_without_shuffle_a_single_rank_reads_in_file_order(kind, training_set):
    loader = _open(kind, training_set, shuffle=False)
    assert epoch_ids(loader) == list(range(ROWS))
    assert epoch_ids(loader) == list(range(ROWS))


@pytest.mark.parametrize("kind", KINDS)
def test_batches_are_full_but_the_last(kind, training_set):
    sizes = [len(y) for _, y in _open(kind, training_set, batch_size=100)]
    assert sizes[:-1] == [100] * (len(sizes) - 1)
    assert sum(sizes) == ROWS and 0 < sizes[-1] <= 100


@pytest.mark.parametrize("kind", KINDS)
def test_values_match_the_parquet(kind, training_set):
    table = pq.read_table(training_set).sort_by("row_id")
    want_x = np.stack([table[c].to_numpy().astype(np.float32) for c in FEATURES], axis=1)
    want_y = table[LABEL].to_numpy().astype(np.float32)
    xs, ys = zip(*_open(kind, training_set, seed=1), strict=True)
    x, y = torch.cat(xs), torch.cat(ys)
    order = torch.argsort(x[:, 0])
    np.testing.assert_array_equal(x[order].numpy(), want_x)
    np.testing.assert_array_equal(y[order].numpy(), want_y)


def test_arrow_stream_splits_row_groups_when_readers_outnumber_them(tmp_path):
    path = write_training_set(tmp_path / "one", rows=301, files=1, row_group=1000)
    seen = [
        epoch_ids(_open("arrow-stream", path, rank=r, world_size=2, num_workers=2, batch_size=16))
        for r in (0, 1)
    ]
    assert all(seen), "a rank got no rows from a single row group"
    assert sorted(seen[0] + seen[1]) == list(range(301))


def test_arrow_stream_shuffle_buffer_mixes_row_groups(training_set):
    # One buffer holds the whole rank's share, so the first batch draws from many row groups.
    x, _ = next(iter(_open("arrow-stream", training_set, shuffle_buffer_rows=ROWS)))
    assert len(set((x[:, 0] // 100).long().tolist())) > 5


def test_in_memory_len_matches_the_batches(training_set):
    for rank in (0, 1):
        loader = _open("in-memory", training_set, rank=rank, world_size=2, batch_size=50)
        assert len(loader) == sum(1 for _ in loader)
        assert loader.num_rows == (ROWS + 1 - rank) // 2


def test_arrow_stream_num_rows_matches_the_epoch(training_set):
    loader = _open("arrow-stream", training_set, rank=1, world_size=2, num_workers=2)
    expected, batches = loader.num_rows, len(loader)
    sizes = [len(y) for _, y in loader]
    assert expected == sum(sizes)
    assert batches == len(sizes)  # one short batch per worker


@pytest.mark.parametrize("kind", KINDS)
def test_missing_column_names_it(kind, training_set):
    with pytest.raises(ValueError, match=r"column 'nope' not found .* it has customer_id, row_id"):
        make_loader(kind, training_set, ["row_id", "nope"], LABEL, 8)


@pytest.mark.parametrize("kind", KINDS)
def test_text_column_is_refused(kind, training_set):
    with pytest.raises(ValueError, match=r"column 'customer_id' .* expected a numeric type"):
        make_loader(kind, training_set, ["customer_id"], LABEL, 8)


@pytest.mark.parametrize("kind", KINDS)
def test_nulls_are_refused_naming_the_column(kind, tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "y": [0, 1, 0]}), path)
    with pytest.raises(ValueError, match=r"column 'a' has 1 null value"):
        list(make_loader(kind, path, ["a"], "y", 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"kind": "pickle"},
            r"loader kind='pickle': expected one of arrow-stream, in-memory, petastorm, ray-data",
        ),
        ({"batch_size": 0}, r"batch_size=0: expected a positive integer"),
        ({"rank": 2, "world_size": 2}, r"rank=2: expected an integer in \[0, 2\)"),
        ({"path": "/nonexistent/train"}, r"path='/nonexistent/train': no such Parquet"),
        ({"feature_columns": "row_id"}, r"feature_columns='row_id': expected a non-empty list"),
        ({"device": "tpu"}, r"device='tpu': expected 'cpu', 'cuda'"),
        ({"num_wrkers": 2}, r"option\(s\) 'num_wrkers' not known for kind='arrow-stream'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message, training_set):
    args = {
        "kind": "arrow-stream",
        "path": training_set,
        "feature_columns": FEATURES,
        "label_column": LABEL,
        "batch_size": 8,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_loader(**args)


def test_cuda_device_is_refused_without_cuda(training_set):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=r"device='cuda': CUDA is not available"):
        _open("in-memory", training_set, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_batches_land_on_the_gpu(kind, training_set):
    loader = _open(kind, training_set, device="cuda")
    x, y = next(iter(loader))
    assert x.is_cuda and y.is_cuda
    assert sorted(epoch_ids(loader)) == list(range(ROWS))


def test_petastorm_outside_its_environment_says_how_to_get_it(training_set):
    try:
        import petastorm  # noqa: F401

        pytest.skip("petastorm is installed here")
    except ImportError:
        pass
    loader = make_loader("petastorm", training_set, FEATURES, LABEL, 8)
    with pytest.raises(ImportError, match=r"run scripts/petastorm-env to build .venv-petastorm"):
        next(iter(loader))


@pytest.mark.parametrize(("kind", "options"), CASES, ids=CASE_IDS)
def test_even_batches_with_drop_last_give_every_rank_the_same_full_steps(
    kind, options, training_set
):
    ranks = [
        _open(kind, training_set, rank=r, world_size=2, batch_size=64, even_batches=True,
              drop_last=True, **options)
        for r in (0, 1)
    ]  # fmt: skip
    for _ in range(2):
        lengths = [len(loader) for loader in ranks]
        sizes = [[len(y) for _, y in loader] for loader in ranks]
        assert len(sizes[0]) == len(sizes[1]) > 0, "ranks would step out of lockstep"
        assert lengths == [len(sizes[0]), len(sizes[1])], "len() is not the epoch's batches"
        assert all(s == 64 for rank in sizes for s in rank), "a short batch was kept"
    seen = [epoch_ids(loader) for loader in ranks]
    assert not set(seen[0]) & set(seen[1])
    # What sits out is bounded: less than a batch per reader plus the uneven shares' gap.
    assert len(seen[0]) + len(seen[1]) > ROWS - 2 * 64 * (1 + options.get("num_workers", 0)) - 200


@pytest.mark.parametrize(("kind", "options"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "in-order"])
def test_even_batches_give_every_rank_the_same_batch_sizes_on_uneven_shares(
    kind, options, shuffle, training_set
):
    # 1003 rows in row groups of 100 and 2 or 1 rows: the ranks' shares are uneven, and
    # validation (shuffle off, short batch kept) must still step in lockstep.
    def share(rank: int, even: bool):
        return _open(kind, training_set, rank=rank, world_size=2, batch_size=64,
                     shuffle=shuffle, seed=5, even_batches=even, **options)  # fmt: skip

    uneven = [len(epoch_ids(share(r, even=False))) for r in (0, 1)]
    assert uneven[0] != uneven[1], "the case needs uneven shares"
    ranks = [share(r, even=True) for r in (0, 1)]
    for _ in range(2):
        lengths = [len(loader) for loader in ranks]
        sizes = [[len(y) for _, y in loader] for loader in ranks]
        assert sizes[0] == sizes[1], "ranks would step out of lockstep"
        assert lengths == [len(sizes[0])] * 2, "len() is not the epoch's batches"
        if kind == "in-memory":  # a global permutation: shares differ by at most a row
            assert sum(sizes[0]) == ROWS // 2
    if not shuffle:  # the units are dealt the same way every epoch: the smaller share is kept
        assert sum(sizes[0]) == min(uneven)
    seen = [epoch_ids(loader) for loader in ranks]
    assert not set(seen[0]) & set(seen[1]), "ranks overlap"
