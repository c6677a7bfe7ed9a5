"""Where the real public data of shared/data lives: beside the checkout, in CI as on the development
machines; ZHIZE_SHARED_DATA points elsewhere. A test that needs a file fails, loudly, when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("ZHIZE_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: this test reads the real data of shared/data (see its README). "
            "Put shared/ beside the checkout or point ZHIZE_SHARED_DATA at it.",
            pytrace=False,
        )
    return path
