"""Text as search and the synonym table compare it: one normal form for both."""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """Full-width to half-width, compatibility forms folded (NFKC), lower case."""
    return unicodedata.normalize("NFKC", text).lower()
