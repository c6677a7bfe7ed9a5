"""How the API writes an instant: ISO 8601 in the office's time zone (Asia/Shanghai), with its offset —
``2026-03-01T09:30:00+08:00`` — everywhere, so a client never meets two conventions in one integration.

DRF's ``DateTimeField`` already does this (with ``USE_TZ`` it converts to the current time zone); the
helpers here are for JSON built by hand (the duty dicts, Open311) and must give the same strings.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def api_datetime(value: datetime | None) -> str | None:
    """An aware date-time as DRF's ``DateTimeField`` writes it (``Z`` for a zero offset, which Asia/Shanghai
    never has)."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text


def w3c_datetime(value: datetime) -> str:
    """Open311's W3C date-time: the same local time and offset, to the second (the spec's examples, and
    what GeoReport clients parse). Asia/Shanghai has kept +08:00 since 1991, so these strings are all the
    same length and sort as the instants do."""
    return timezone.localtime(value).replace(microsecond=0).isoformat()
