"""Fixtures for the loader tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from loader_cases import write_training_set


@pytest.fixture(scope="session")
def training_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training_set(tmp_path_factory.mktemp("loaders") / "train")
