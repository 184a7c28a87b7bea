"""The API DSN returns, as the GIP-MDS's own mock of the API DSN speaks them: list the
declarant's returns over windows of at most 60 minutes (10 for a concentrator), dates written
`yyyyMMddHHmmss` in the servers' local time, and download one return (served gzip) to a file,
whole or not at all.

Listings are read as they come: `retours`/`flux`/`retour` as an object or an array, any case;
a `retour` without `url` has no document yet and is left for a later listing. The `id` of a
return is its flux's, shared by the returns of other natures of one deposit: a return is known
by its download URL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from gedflow.portal.http import PortalError
from gedflow.portal.session import Session

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=60)
CONCENTRATOR_WINDOW = timedelta(minutes=10)
EDGE = timedelta(minutes=2)  # listings end this long before now: a late publication is not lost
STAMP = "%Y%m%d%H%M%S"  # the mock's DateUtils: window dates and `publication` stamps
CRM_NOMINATIF, CRM_TAUX_SUR_TAUX = "94", "95"
LISTING_REASONS = {422: "dates de la fenêtre refusées par le serveur (format attendu "
                        "AAAAMMJJHHMMSS)",
                   429: "fenêtre de recherche trop longue, ou trop de requêtes : réessayez "
                        "plus tard"}


@dataclass(frozen=True)
class Retour:
    key: str  # the download URL: unique, whatever the flux id and nature
    flux: str
    nature: str
    statut: str
    publication: datetime | None
    url: str


def windows(start: datetime, end: datetime, zone: ZoneInfo,
            size: timedelta = WINDOW) -> list[tuple[datetime, datetime]]:
    """[start, end) on the servers' wall clock (naive local times) cut into consecutive windows
    of at most `size`: on the autumn clock change the repeated hour is listed once, never
    twice, and no hour is skipped; each window is at most `size` as the server counts it."""
    at = start.astimezone(zone).replace(tzinfo=None)
    until = end.astimezone(zone).replace(tzinfo=None)
    cuts = []
    while at < until:
        cuts.append((at, min(at + size, until)))
        at += size
    return cuts


def when(value: object, zone: ZoneInfo) -> datetime | None:
    """A `publication` stamp: `yyyyMMddHHmmss` in the servers' local time, or ISO 8601."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 14 and text.isdigit():
            return datetime.strptime(text, STAMP).replace(tzinfo=zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _field(item: object, name: str) -> object:
    """`item[name]`, whatever its case (`retour`, `Retour`); None when absent."""
    if not isinstance(item, dict):
        return None
    for key, value in item.items():
        if key.lower() == name:
            return value
    return None


def _many(value: object) -> list:
    """An array as it is; a single object as an array of one; nothing as nothing."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def returns_of(listing: object, zone: ZoneInfo) -> tuple[list[Retour], int]:
    """The downloadable returns of one listing, and how many had no document (no `url`)."""
    found, waiting = [], 0
    for flux in _many(_field(_field(listing, "retours"), "flux")):
        for item in _many(_field(flux, "retour")):
            url = str(_field(item, "url") or "")
            if not url:
                waiting += 1
                continue
            found.append(Retour(
                key=url, flux=str(_field(item, "id") or _field(flux, "id") or ""),
                nature=str(_field(item, "nature") or ""), statut=str(_field(item, "statut") or ""),
                publication=when(_field(item, "publication"), zone), url=url))
    return found, waiting


class DsnApi:
    def __init__(self, session: Session, retours_url: str, zone: ZoneInfo) -> None:
        self.session = session
        self.retours_url = retours_url
        self.zone = zone

    @property
    def window(self) -> timedelta:
        return CONCENTRATOR_WINDOW if self.session.declarant else WINDOW

    def list_returns(self, start: datetime, end: datetime) -> list[Retour]:
        """Every downloadable return published in [start, end), once each."""
        found: dict[str, Retour] = {}
        waiting = 0
        for debut, fin in windows(start, end, self.zone, self.window):
            url = self.retours_url.format(debut=debut.strftime(STAMP), fin=fin.strftime(STAMP))
            answer = self.session.request("GET", url, reasons=LISTING_REASONS)
            try:
                listing = answer.json()
            except ValueError as exc:
                raise PortalError(f"liste des retours illisible ({url}) : ce n'est pas du "
                                  "JSON") from exc
            items, missing = returns_of(listing, self.zone)
            waiting += missing
            for retour in items:
                found.setdefault(retour.key, retour)
        if waiting:
            log.info("%d retour(s) listé(s) sans document (pas encore disponible)", waiting)
        return list(found.values())

    def download(self, retour: Retour, target: Path) -> Path:
        """The return's document in `target` (fsynced), or no file at all. The server sends
        it gzip-encoded: `Content-Length` counts the bytes on the wire, not those written."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.session.stream(retour.url) as answer, \
                    target.open("wb") as handle:
                for chunk in answer.iter_bytes():
                    handle.write(chunk)
                expected = answer.headers.get("Content-Length")
                received = answer.num_bytes_downloaded
                handle.flush()
                os.fsync(handle.fileno())
            if expected is not None and received != int(expected):
                raise PortalError(f"retour du flux {retour.flux} : téléchargement incomplet "
                                  f"({received} octets reçus sur {expected})")
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target
