"""The tuned net's candidates: each laid on the config by the one deep merge, validated."""

import pytest

from churnops.trainers.config import load_train_config
from churnops.trainers.tuned_net import NET_SEARCH, TunedNetChurnModel


def test_a_candidate_changes_only_what_it_names(tmp_path):
    cfg = load_train_config([f"workdir={tmp_path}", "logger=none", "model=xgboost"])
    tuned = TunedNetChurnModel(cfg)
    candidate = tuned.candidate_config({"trainer": {"batch_size": 128}, "mlp": {"dropout": 0.3}})
    assert candidate.model.name == "mlp"  # the search is over the net, whatever cfg trained
    assert candidate.trainer.batch_size == 128 and candidate.model.mlp.dropout == 0.3
    assert candidate.trainer.max_epochs == cfg.trainer.max_epochs
    assert candidate.model.mlp.hidden_sizes == cfg.model.mlp.hidden_sizes
    assert candidate.data == cfg.data


def test_bad_candidates_are_refused_by_name(tmp_path):
    tuned = TunedNetChurnModel(load_train_config([f"workdir={tmp_path}", "logger=none"]))
    with pytest.raises(ValueError, match="unknown section"):
        tuned.candidate_config({"model": {}})
    with pytest.raises(ValueError, match="batch_size"):
        tuned.candidate_config({"trainer": {"batch_size": 0}})
    with pytest.raises(ValueError, match="space"):
        TunedNetChurnModel(tuned.cfg, space=())
    assert NET_SEARCH[0] == {}  # the default is the first candidate
