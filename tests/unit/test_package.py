"""The package's top level: what `import tiergate` costs and what it offers."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tiergate


def test_import_tiergate_loads_no_web_framework_and_no_store() -> None:
    # A fresh interpreter: this one has imported everything already.
    probe = (
        "import sys, tiergate;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('fastapi', 'starlette', 'upstash_redis', 'boto3', 'stripe', 'httpx')"
        " or m.startswith('tiergate.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_public_names_resolve_to_the_real_objects() -> None:
    from tiergate.config import Settings
    from tiergate.outcomes import Admitted
    from tiergate.web import install, requires

    assert (tiergate.Admitted, tiergate.Settings) == (Admitted, Settings)
    assert (tiergate.install, tiergate.requires) == (install, requires)
    assert set(tiergate.__all__) <= set(dir(tiergate))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'install_app'"):
        _ = tiergate.install_app
