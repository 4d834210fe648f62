from __future__ import annotations

import pytest

from .packaged import Packaged, package


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """One `serverless package` of a fresh copy per run, shared by the deployment tests."""
    return package(tmp_path_factory.mktemp("sls"))
