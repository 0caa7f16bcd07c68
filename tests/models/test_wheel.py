"""A logged model carries churnops' own wheel in its requirements, and an environment built from
those requirements alone (no churnops installed, no repository on the path) loads and predicts."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from churnops.models.baselines import LogisticChurnModel
from churnops.models.feature_spec import FeatureSpec
from churnops.models.pyfunc import log_pyfunc_model
from churnops.models.wheel import CACHE_ENV, churnops_wheel

COLUMNS = ["a", "b", "c"]


def test_the_wheel_holds_the_running_code_and_its_requirements(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    wheel = churnops_wheel()
    assert churnops_wheel() == wheel  # built once per content, then reused
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        source = Path(__file__).resolve().parents[2] / "churnops" / "models" / "pyfunc.py"
        assert zf.read("churnops/models/pyfunc.py") == source.read_bytes()
        meta = zf.read("churnops-0.1.0.dist-info/METADATA").decode()
    assert "churnops-0.1.0.dist-info/RECORD" in names and "Requires-Dist: pydantic" in meta
    assert not any("__pycache__" in n for n in names)
    assert wheel.stat().st_mode & 0o777 == 0o644  # an image built as another user reads it


@pytest.fixture(scope="module")
def logged_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("wheel", artifact_location=(root / "a").as_uri())
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype("float32")
    model = LogisticChurnModel().fit(x, (x[:, 0] > 0).astype(int))
    example = pd.DataFrame(x[:3].astype("float64"), columns=COLUMNS)
    with mlflow.start_run():
        info = log_pyfunc_model(model, FeatureSpec(COLUMNS), input_example=example)
    return Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "m")))


def test_requirements_name_the_wheel_logged_beside_the_model(logged_model):
    requirements = (logged_model / "requirements.txt").read_text().split()
    wheels = [r for r in requirements if r.startswith("artifacts/churnops-")]
    assert len(wheels) == 1 and (logged_model / wheels[0]).is_file()
    assert (logged_model / wheels[0]).stat().st_mode & 0o444 == 0o444  # readable by all
    assert not any(r.startswith("torch") for r in requirements)  # torch only for the net


@pytest.mark.slow
def test_a_fresh_environment_from_the_requirements_predicts(logged_model, tmp_path):
    # A venv without system site-packages, filled from the model folder's requirements as
    # MLflow's default environment manager (`uv`) does: `uv pip install -r requirements.txt`
    # there (PyPI for the libraries, the logged wheel for churnops).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = venv / "bin" / "python"
    uv = Path(sys.executable).with_name("uv")  # a dev requirement, beside this interpreter
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--python", str(python), "-r", "requirements.txt"],
        cwd=logged_model, env=env, check=True, timeout=1800,
    )  # fmt: skip
    script = (
        "import mlflow.pyfunc, pandas as pd, churnops, sys\n"
        f"m = mlflow.pyfunc.load_model({str(logged_model)!r})\n"
        f"out = m.predict(pd.DataFrame([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]], columns={COLUMNS}))\n"
        "print(churnops.__file__, out['prediction'].tolist())\n"
    )
    run = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    where, predictions = run.stdout.strip().split(" ", 1)
    assert where.startswith(str(venv)) and predictions == "[1, 0]"
