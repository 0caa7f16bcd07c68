"""The GitHub Actions workflow: valid against the Actions schema, and doing what CI promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "ci.yml"


def test_workflow_passes_the_github_actions_schema() -> None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("check-jsonschema is not installed (it is in the dev extra)")
    done = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_tests_everywhere_and_deploys_only_from_main() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    test_steps = [s.get("run", "") for s in flow["jobs"]["test"]["steps"]]
    assert "make test" in test_steps  # the README's test command, nothing weaker
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "test"
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]
    script = "\n".join(s.get("run", "") for s in deploy["steps"])
    assert "pip wheel" in script and "churnops pipeline export --target databricks" in script
    assert "databricks bundle deploy" in script
