"""MonitorConfig is strict: unknown keys and bad values are errors that name them."""

import pytest

from churnops.config import CONFIG_DIR, ConfigError, load_config
from churnops.monitoring.config import MonitorConfig


def test_shipped_config_loads_and_overrides_apply():
    cfg = load_config(MonitorConfig, CONFIG_DIR / "monitor" / "churn.yaml", ["engine=spark"])
    assert cfg.engine.name == "spark" and cfg.granularities == ["1 day", "1 week"]
    assert cfg.table_path("profile_metrics").endswith("churn_profile_metrics")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("granularity=1 day", r"unknown key 'granularity' \(did you mean 'granularities'\?\)"),
        ("granularities=[5 minutes]", "granularity '5 minutes': expected one of"),
        ("engine=pandas", r"engine\.name='pandas'"),
        (
            "retrain.drift_thresold=0.3",
            r"'retrain.drift_thresold' \(did you mean 'drift_threshold'",
        ),
        ("zzz=1", r"unknown key 'zzz' \(expected one of \['name', 'table'"),
        ("quantiles=[0.5, 1.5]", r"quantiles \[1.5\]: expected values in \[0, 1\]"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(MonitorConfig, CONFIG_DIR / "monitor" / "churn.yaml", [override])
