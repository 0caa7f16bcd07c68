"""The wheel is what a Databricks job installs: built, installed into a fresh folder, and run from
another folder, it must find its default configs inside the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-*",
    ".churnops",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "docs",
    "tests",
)


@pytest.mark.slow
def test_installed_wheel_runs_features_build_from_another_folder(tmp_path):
    # Build from a copy, so the build leaves nothing (build/, *.egg-info) in the working tree.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=SKIP)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            str(src),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("churnops-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert (site / "churnops" / "configs" / "features" / "cdnow.yaml").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -S skips site-packages' .pth files (our editable install): only the wheel's churnops is
    # importable; the venv's site-packages go after it for the dependencies.
    deps = sysconfig.get_paths()["purelib"]
    code = (
        f"import sys; sys.path[:0] = [{str(site)!r}, {deps!r}]\n"
        "import churnops.config as c; print('CONFIG_DIR', c.CONFIG_DIR)\n"
        "from churnops.cli import main\n"
        "raise SystemExit(main(['features', 'build', 'source.variant=sample']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing but the wheel
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"CONFIG_DIR {site / 'churnops' / 'configs'}" in out.stdout
    assert list((elsewhere / ".churnops" / "features").glob("features-1997-09-30.parquet"))
    assert (elsewhere / ".churnops" / "feature_store").is_dir()
