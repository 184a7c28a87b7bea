"""The API DPAE's bilan, read the same way when the API client downloads it and when a user
drops it in `inbox/AR/` (element names in `schemas.dpae`). Streamed: a file of any size holds
only the few values kept."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from gedflow.errors import InputError
from gedflow.xmlsafe import HARDENED, sniff_xml, syntax_error
from schemas.dpae import BILAN_ELEMENTS, BILAN_ETATS, BILAN_PROFIL

_FIELD_OF = {element: name for name, element in BILAN_ELEMENTS.items()}


@dataclass(frozen=True)
class Bilan:
    idflux: str  # "" when the document does not say
    etat: str  # OK | KO
    certificat: str
    message: str


class NotABilan(Exception):
    """The document's root is not of profil DPAE (`profil`: what it says)."""

    def __init__(self, profil: str | None) -> None:
        super().__init__(profil)
        self.profil = profil


def parse(source: BinaryIO) -> Bilan:
    """The bilan of a document (a binary stream): the first text of each element
    `BILAN_ELEMENTS` names, wherever it is; raises `NotABilan`, or lxml's syntax error."""
    found: dict[str, str] = {}
    events = etree.iterparse(source, events=("start", "end"), **HARDENED)
    _event, root = next(events)
    if root.get("profil") != BILAN_PROFIL:
        raise NotABilan(root.get("profil"))
    for event, element in events:
        if event != "end":
            continue
        name = _FIELD_OF.get(element.tag)
        if name and name not in found:
            found[name] = (element.text or "").strip()
        element.clear()
        while element.getprevious() is not None:  # nothing kept behind
            del element.getparent()[0]
    return Bilan(**{name: found.get(name, "") for name in BILAN_ELEMENTS})


def read(path: Path, name: str) -> Bilan:
    """A dropped bilan; its flow id, when the document lacks it, from the file name (clients
    save it as <idflux>.xml)."""
    sniff_xml(path, "bilan DPAE")
    try:
        with path.open("rb") as handle:
            bilan = parse(handle)
    except etree.XMLSyntaxError as exc:
        raise syntax_error(exc, "bilan DPAE", path) from exc
    except NotABilan as exc:
        raise InputError(f"ce n'est pas un bilan DPAE (profil={exc.profil!r})",
                         code="pas_ar", todo="déposez le bilan dont le profil est DPAE") from exc
    if bilan.etat not in BILAN_ETATS:
        raise InputError("bilan sans etat_conformite OK/KO", code="pas_ar",
                         todo="déposez le bilan complet")
    return bilan if bilan.idflux else replace(bilan, idflux=Path(name).stem)
