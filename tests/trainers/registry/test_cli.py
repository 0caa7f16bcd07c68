"""`churnops registry list|promote|validate` on a temp store: exit codes, output, alias moves."""

from __future__ import annotations

import argparse

import pytest

from churnops.cli import registry as registry_cli
from churnops.trainers.registry import CHAMPION, ModelRegistry, RegistryError
from tests.trainers.registry.conftest import NAME, log


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    registry_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["registry", *argv])
    return args.run(args)


def test_registry_commands(mlflow_tmp, fitted_models, cdnow_frame, cdnow_training_set_path,
                           capsys):  # fmt: skip
    registry = ModelRegistry(mlflow_tmp)
    registry.register(log(fitted_models["good"], cdnow_frame), NAME, alias="challenger")
    common = ["--name", NAME, "--tracking-uri", mlflow_tmp]
    fast_gate = ["gate.latency_rows=100", "gate.latency_repeats=1",
                 "gate.max_calibration_error=0.5"]  # fmt: skip
    assert _run("validate", "--holdout", str(cdnow_training_set_path), *common, *fast_gate) == 0
    assert "validation_status=PASSED: promoted to champion" in capsys.readouterr().out
    assert registry.alias_version(NAME, CHAMPION) == "1"

    registry.register(log(fitted_models["broken"], cdnow_frame), NAME, alias="challenger")
    assert _run("validate", "--holdout", str(cdnow_training_set_path), *common, *fast_gate) == 1
    assert "validation_status=FAILED: champion unchanged" in capsys.readouterr().out
    assert registry.alias_version(NAME, CHAMPION) == "1"

    assert _run("promote", "2", *common) == 0  # a person may still overrule the gate
    assert registry.alias_version(NAME, CHAMPION) == "2"
    assert _run("list", *common) == 0
    out = capsys.readouterr().out
    assert "champion" in out and "FAILED" in out and "PASSED" in out
    with pytest.raises(RegistryError, match="no version 9"):
        _run("promote", "9", *common)
