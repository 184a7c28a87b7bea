"""The API DPAE's bilan, read the same way when the API client downloads it and when a user
drops it in `inbox/AR/` (element names in `schemas.dpae`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from gedflow.errors import InputError
from gedflow.xmlsafe import HARDENED, sniff_xml, syntax_error
from schemas.dpae import BILAN_ELEMENTS, BILAN_ETATS, BILAN_PROFIL


@dataclass(frozen=True)
class Bilan:
    idflux: str  # "" when the document does not say
    etat: str  # OK | KO
    certificat: str
    message: str


def bilan_of(root: etree._Element) -> Bilan | None:
    """The bilan a parsed document holds; None when it is not of profil DPAE."""
    if root.get("profil") != BILAN_PROFIL:
        return None
    return Bilan(**{name: (root.findtext(f".//{element}") or "").strip()
                    for name, element in BILAN_ELEMENTS.items()})


def read(path: Path, name: str) -> Bilan:
    """A dropped bilan; its flow id, when the document lacks it, from the file name (clients
    save it as <idflux>.xml)."""
    sniff_xml(path, "bilan DPAE")
    try:
        root = etree.parse(str(path), etree.XMLParser(**HARDENED)).getroot()
    except etree.XMLSyntaxError as exc:
        raise syntax_error(exc, "bilan DPAE", path) from exc
    bilan = bilan_of(root)
    if bilan is None:
        raise InputError(f"ce n'est pas un bilan DPAE (profil={root.get('profil')!r})",
                         code="pas_ar", todo="déposez le bilan dont le profil est DPAE")
    if bilan.etat not in BILAN_ETATS:
        raise InputError("bilan sans etat_conformite OK/KO", code="pas_ar",
                         todo="déposez le bilan complet")
    return bilan if bilan.idflux else replace(bilan, idflux=Path(name).stem)
