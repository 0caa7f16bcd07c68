import numpy as np

from churnops.models.preprocessing import FeaturePreprocessor
from churnops.trainers.config import MLPConfig, TrainerConfig
from churnops.trainers.fit import NetFitJob, build_net


def _job(**mlp):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    x[:, 1] = np.arange(32) % 4  # a categorical column's codes
    return NetFitJob(
        x_train=x, y_train=np.arange(32) % 2, x_val=x[:8], y_val=np.arange(8) % 2,
        feature_columns=["a", "plan", "b"], categorical={"plan": 6},
        preprocessor=FeaturePreprocessor.fit(x[:, [0, 2]]), model=MLPConfig(**mlp),
        trainer=TrainerConfig(), seed=0, checkpoint_dir="unused",
    )  # fmt: skip


def test_the_net_is_built_as_the_model_config_says():
    net = build_net(_job())
    defaults = MLPConfig()
    assert net.architecture()["ensemble_size"] == defaults.ensemble_size
    assert net.architecture()["hidden_sizes"] == defaults.hidden_sizes
    assert net.additive is not None and net.categorical_index.tolist() == [1]
    plain = build_net(_job(additive=False, ensemble_size=2, hidden_sizes=[8]))
    assert plain.additive is None
    arch = plain.architecture()
    assert (arch["ensemble_size"], arch["hidden_sizes"], arch["additive"]) == (2, [8], False)
