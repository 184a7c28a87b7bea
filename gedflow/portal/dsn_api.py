"""The API DSN returns (net_entreprises_api.md): list the declarant's returns over windows of at
most 60 minutes, and download one return to a file, whole or not at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gedflow.portal.http import PortalError
from gedflow.portal.session import Session

WINDOW = timedelta(minutes=60)
STAMP = "%Y-%m-%dT%H:%M:%S"
CRM_NOMINATIF = "94"


@dataclass(frozen=True)
class Retour:
    id: str
    nature: str
    statut: str
    publication: datetime | None
    url: str


def windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most 60 minutes."""
    cuts, at = [], start
    while at < end:
        cuts.append((at, min(at + WINDOW, end)))
        at += WINDOW
    return cuts


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DsnApi:
    def __init__(self, session: Session, retours_url: str) -> None:
        self.session = session
        self.retours_url = retours_url

    def list_returns(self, start: datetime, end: datetime) -> list[Retour]:
        """Every return published in [start, end), once each (a return can be listed twice)."""
        found: dict[str, Retour] = {}
        for debut, fin in windows(start, end):
            url = self.retours_url.format(debut=debut.astimezone(UTC).strftime(STAMP),
                                          fin=fin.astimezone(UTC).strftime(STAMP))
            listing = self.session.request("GET", url).json()
            for flux in (listing.get("retours") or {}).get("flux") or []:
                for item in flux.get("retour") or []:
                    retour = Retour(str(item["id"]), str(item.get("nature", "")),
                                    str(item.get("statut", "")), _when(item.get("publication")),
                                    item["url"])
                    found.setdefault(retour.id, retour)
        return list(found.values())

    def download(self, retour: Retour, target: Path) -> Path:
        """The return's document in `target` (fsynced), or no file at all."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.session.stream(retour.url) as answer, target.open("wb") as handle:
                for chunk in answer.iter_bytes():
                    handle.write(chunk)
                expected = answer.headers.get("Content-Length")
                handle.flush()
                os.fsync(handle.fileno())
            if expected is not None and target.stat().st_size != int(expected):
                raise PortalError(f"retour {retour.id} : téléchargement incomplet "
                                  f"({target.stat().st_size} octets sur {expected})")
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target
