"""Search spaces from `TuneConfig.space`, for Ray Tune and for hyperopt, and trial params applied
to a train config."""

from __future__ import annotations

from typing import Any

from churnops.config import apply_overrides, build_config
from churnops.trainers.config import TrainConfig
from churnops.trainers.tuning.config import ParamSpace

ESTIMATOR = "estimator."
JSON = "json:"  # searchers take scalar choices only: a list choice travels as JSON text


def _choices(values: list[Any]) -> list[Any]:
    import json

    scalar = (str, int, float, bool, type(None))
    return [v if isinstance(v, scalar) else JSON + json.dumps(v) for v in values]


def ray_space(space: dict[str, ParamSpace]) -> dict[str, Any]:
    """`{key: tune.choice(...) | tune.uniform(...) | ...}` for Ray Tune's `param_space`."""
    from ray import tune

    out: dict[str, Any] = {}
    for key, p in space.items():
        v = p.values
        if p.kind == "choice":
            out[key] = tune.choice(_choices(v))
        elif p.kind == "uniform":
            out[key] = tune.uniform(v[0], v[1])
        elif p.kind == "loguniform":
            out[key] = tune.loguniform(v[0], v[1])
        elif p.kind == "quniform":
            out[key] = tune.quniform(v[0], v[1], v[2])
        else:
            out[key] = tune.randint(v[0], v[1])
    return out


def hyperopt_space(space: dict[str, ParamSpace]) -> dict[str, Any]:
    """`{key: hp.choice(...) | hp.uniform(...) | ...}` for hyperopt's `fmin`."""
    import math

    from hyperopt import hp

    out: dict[str, Any] = {}
    for key, p in space.items():
        v = p.values
        if p.kind == "choice":
            out[key] = hp.choice(key, _choices(v))
        elif p.kind == "uniform":
            out[key] = hp.uniform(key, v[0], v[1])
        elif p.kind == "loguniform":
            out[key] = hp.loguniform(key, math.log(v[0]), math.log(v[1]))
        elif p.kind == "quniform":
            out[key] = hp.quniform(key, v[0], v[1], v[2])
        else:
            out[key] = hp.randint(key, v[0], v[1])
    return out


def plain(value: Any) -> Any:
    """numpy scalars, tuples and JSON-encoded choices from the searchers -> plain Python."""
    if isinstance(value, str) and value.startswith(JSON):
        import json

        return json.loads(value.removeprefix(JSON))
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):
        return value.item()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> tuple[TrainConfig, dict]:
    """(train config with the config-path params set, estimator params) for one trial."""
    config_params = {k: plain(v) for k, v in params.items() if not k.startswith(ESTIMATOR)}
    estimator = {k.removeprefix(ESTIMATOR): plain(v) for k, v in params.items()
                 if k.startswith(ESTIMATOR)}  # fmt: skip
    data = apply_overrides(base, [])
    for key, value in config_params.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return build_config(TrainConfig, data, source="tune trial"), estimator
