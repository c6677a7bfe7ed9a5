"""The actor for work nobody in particular asked for: demo loading, set-up commands, beat sweeps.

Services accept it wherever they accept a user; the audit log records it as ``system``.
"""

from __future__ import annotations


class SystemActor:
    pk = None
    id = None
    is_authenticated = False
    is_active = True
    is_superuser = True
    name = "system"

    def get_username(self) -> str:
        return "system"

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()
