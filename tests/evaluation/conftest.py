"""Fixtures of the evaluation tests: a data root with every benchmark in its real format."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_eval_data import write_all


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_all(tmp_path_factory.mktemp("eval_data"))
