"""Automatic CRM retrieval (API DSN, returns of nature 94, the CRM nominatif, and 95, the CRM
taux sur taux): for each user's credentials (and, for a concentrator, each declarant it serves),
list the returns since that user's last complete retrieval up to a couple of minutes before now
(a return published at the edge is listed next time, not missed), download every CRM not seen
yet (by download URL) and drop it atomically into `inbox/crm_nominatif/travail/YYYY_MM/`, where
the CRM flow takes it. A refused authentication is an error, never a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from lxml import etree
from sqlalchemy import Engine, insert, select, update

from gedflow.db.tables import dossier, recuperation, retour_crm
from gedflow.errors import GedflowError
from gedflow.formats.crm import parse_dates
from gedflow.fsutil import free_name, move
from gedflow.portal.credentials import CONCENTRATOR, CredentialStore, Identifiants
from gedflow.portal.dsn_api import CRM_NOMINATIF, CRM_TAUX_SUR_TAUX, EDGE, DsnApi, Retour
from gedflow.portal.http import Portal
from gedflow.portal.session import Session
from gedflow.settings import Settings
from gedflow.xmlsafe import HARDENED

log = logging.getLogger(__name__)
NATURES = (CRM_NOMINATIF, CRM_TAUX_SUR_TAUX)


@dataclass
class Recuperation:
    """One user's retrieval: the window, the files dropped, the error if it failed."""

    utilisateur: str
    debut: datetime | None = None
    fin: datetime | None = None
    retours: int = 0
    deja_vus: int = 0
    fichiers: list[str] = field(default_factory=list)
    erreur: str = ""


def _period(path, retour: Retour) -> str:
    """YYYY_MM of the CRM's declared month (`mois`, JJMMAAAA or AAAA-MM-JJ), else the month
    before its publication (an unreadable file goes on to the CRM flow, which says why)."""
    try:
        declared = _declared_month(path)
    except etree.XMLSyntaxError:
        declared = None
    published = retour.publication or datetime.now(UTC)
    return declared or f"{published.replace(day=1) - timedelta(days=1):%Y_%m}"


def _declared_month(path) -> str | None:
    with path.open("rb") as handle:
        for _event, element in etree.iterparse(handle, events=("end",), **HARDENED):
            if etree.QName(element).localname == "mois" and element.text:
                day = parse_dates(pd.Series([element.text.strip()])).iloc[0]
                return f"{day[:4]}_{day[5:7]}" if pd.notna(day) and day else None
    return None


def _start(engine: Engine, user: str, now: datetime, settings: Settings) -> datetime:
    with engine.connect() as conn:
        last = conn.execute(select(recuperation.c.jusqu_au)
                            .where(recuperation.c.utilisateur == user)).scalar()
    if last is None:
        return now - timedelta(days=settings.connexion_depuis_jours)
    return last if last.tzinfo else last.replace(tzinfo=UTC)


def _seen(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(retour_crm.c.retour_id)
                                .where(retour_crm.c.retour_id.in_(ids))).scalars())


def file_name(retour: Retour) -> str:
    """`crm_<flux>_<nature>.xml`, the flux id reduced to safe characters."""
    flux = re.sub(r"[^A-Za-z0-9_-]+", "-", retour.flux).strip("-")[:60] or "retour"
    return f"crm_{flux}_{retour.nature}.xml"


def _drop(engine: Engine, settings: Settings, api: DsnApi, user: str, retour: Retour) -> str:
    """Download to the state folder, then one rename into the inbox; recorded after."""
    digest = hashlib.sha256(retour.key.encode()).hexdigest()[:32]
    part = settings.state_dir / "telechargements" / f"{digest}.part"
    api.download(retour, part)
    folder = settings.inbox / "crm_nominatif" / "travail" / _period(part, retour)
    target = move(part, free_name(folder / file_name(retour), datetime.now(UTC)))
    relative = str(target.relative_to(settings.root))
    with engine.begin() as conn:
        conn.execute(insert(retour_crm).values(
            retour_id=retour.key, utilisateur=user, publication=retour.publication,
            fichier=relative, recupere_le=datetime.now(UTC)))
    log.info("CRM return (flux %s, nature %s) of %s dropped in %s", retour.flux, retour.nature,
             user, relative)
    return relative


def _advance(engine: Engine, user: str, until: datetime) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(recuperation).where(recuperation.c.utilisateur == user)
                            .values(jusqu_au=until)).rowcount
        if not done:
            conn.execute(insert(recuperation).values(utilisateur=user, jusqu_au=until))


def _listed(api: DsnApi, who: Identifiants, start: datetime, end: datetime) -> list[Retour]:
    """The CRMs listed for the account, or for each declarant a concentrator serves."""
    if who.service != CONCENTRATOR:
        return [r for r in api.list_returns(start, end) if r.nature in NATURES]
    if not who.declarants:
        raise GedflowError("compte concentrateur (service 98) sans déclarant : gedflow "
                           "credentials set --declarant 'SIRET;NOM;PRENOM'", code="identifiants")
    found: dict[str, Retour] = {}
    for declarant in who.declarants:
        api.session.declarant = declarant
        found.update((r.key, r) for r in api.list_returns(start, end) if r.nature in NATURES)
    return list(found.values())


def recuperer_user(engine: Engine, settings: Settings, portal: Portal, user: str,
                   now: datetime) -> Recuperation:
    result = Recuperation(user)
    who = CredentialStore(settings).load(user)
    session = Session(portal, settings.connexion_dsn_authentification, who, user)
    session.login()  # a refused account fails here, loudly
    api = DsnApi(session, settings.connexion_dsn_retours, settings.zone)
    result.debut, result.fin = _start(engine, user, now, settings), now - EDGE
    crms = _listed(api, who, result.debut, result.fin) if result.fin > result.debut else []
    seen = _seen(engine, [r.key for r in crms])
    result.retours, result.deja_vus = len(crms), len(seen)
    for retour in crms:
        if retour.key not in seen:
            result.fichiers.append(_drop(engine, settings, api, user, retour))
    if result.fin > result.debut:  # only once every new CRM of the window is in the inbox
        _advance(engine, user, result.fin)
    return result


def uncovered(engine: Engine, settings: Settings) -> list[str]:
    """Dossiers no stored credentials serve: their CRMs are not retrieved."""
    store = CredentialStore(settings)
    accounts = [store.load(user) for user in store.users()]
    with engine.connect() as conn:
        codes = conn.execute(select(dossier.c.code).order_by(dossier.c.code)).scalars().all()
    return [code for code in codes if not any(a.serves(code) for a in accounts)]


def recuperer(engine: Engine, settings: Settings,
              now: datetime | None = None) -> list[Recuperation]:
    """Every user's retrieval; one user's failure does not stop the others (see `erreur`)."""
    moment = now or datetime.now(UTC)
    chosen = CredentialStore(settings).users()
    if not chosen:
        raise GedflowError("aucun identifiant Net-Entreprises enregistré : "
                           "gedflow credentials set --user administrateur", code="identifiants")
    results = []
    with Portal(settings) as portal:
        for user in chosen:
            try:
                results.append(recuperer_user(engine, settings, portal, user, moment))
            except GedflowError as exc:
                log.error("CRM retrieval failed for %s: %s", user, exc)
                results.append(Recuperation(user, erreur=str(exc)))
            except (KeyError, TypeError, ValueError) as exc:  # an answer of an unknown shape
                log.exception("CRM retrieval failed for %s", user)
                results.append(Recuperation(user, erreur=f"réponse inattendue du serveur "
                                                         f"({type(exc).__name__}: {exc})"))
    return results
