"""Mode assistance (offline): while it is on, nothing leaves the machine. The state is one file
in the root's state folder, so every process of the root (service, workers, one-off commands)
sees it at its next call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gedflow.errors import GedflowError
from gedflow.fsutil import atomic_write
from gedflow.settings import Settings

MESSAGE = "mode assistance (hors ligne) actif : rien ne sort de la machine"


class Offline(GedflowError):
    """A call to the outside refused because the offline mode is on."""

    code = "hors_ligne"


def _path(settings: Settings):
    return settings.state_dir / "hors_ligne.json"


def status(settings: Settings) -> dict | None:
    """When and by whom the offline mode was turned on; None when online."""
    try:
        return json.loads(_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def turn_on(settings: Settings) -> dict:
    state = {"depuis": datetime.now(UTC).isoformat(timespec="seconds"),
             "par": settings.user}
    atomic_write(_path(settings), json.dumps(state))
    return state


def turn_off(settings: Settings) -> bool:
    """True if it was on."""
    try:
        _path(settings).unlink()
    except FileNotFoundError:
        return False
    return True


def refuse_if_on(settings: Settings) -> None:
    if status(settings) is not None:
        raise Offline(MESSAGE)
