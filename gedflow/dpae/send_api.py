"""Sending real DPAE batches through the API DPAE: one hire per deposit, each flow id committed
before polling (a re-run or a restart polls, never deposits again), the bilan recorded on the
contrat (OK → `enregistree` with its certificat de conformité, KO → `erreur` with the message),
and a compte rendu like the AR's.

A deposit is recorded (`depot_en_cours`) before it is sent and never re-sent automatically: a
deposit whose answer was lost (timeout, connection cut, a crash during the call) may have been
taken, so its contrat becomes `incertain` — reported on every run until a person checks the
declarant's returns on net-entreprises.fr. Only a deposit the server answered with an error is
known not to have been taken, and goes back to `pret_a_envoyer`.
"""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import UTC, datetime

import pandas as pd
from lxml import etree
from sqlalchemy import Engine, select, update

from gedflow.db.bulk import chunked
from gedflow.db.tables import contrat, dpae_batch, employeur, hire_salarie_employeur, salarie
from gedflow.dpae.ar import CompteRendu, handled_at, record_bilan, write_compte_rendu
from gedflow.dpae.send import pending_batches
from gedflow.errors import ConfigError
from gedflow.portal.credentials import CredentialStore
from gedflow.portal.dpae_api import DpaeApi, Rejected
from gedflow.portal.http import Portal, PortalError
from gedflow.portal.session import Session
from gedflow.settings import Settings
from schemas.dpae import XML_DUES, XML_EMPLOYEE_GROUP, XML_EMPLOYER_GROUP, XML_TEST

log = logging.getLogger(__name__)
DEPOT_EN_COURS, INCERTAIN = "depot_en_cours", "incertain"
INCERTAIN_MESSAGE = ("dépôt sans réponse : il a peut-être été reçu ; vérifiez les retours sur "
                     "net-entreprises.fr avant toute action (jamais renvoyé automatiquement)")


def dpae_session(portal: Portal, settings: Settings) -> DpaeApi:
    """The API DPAE with the service user's credentials (`[connexion] utilisateur`)."""
    user = settings.connexion_utilisateur
    who = CredentialStore(settings).load(user)
    return DpaeApi(Session(portal, settings.connexion_dpae_authentification, who, user),
                   settings.connexion_dpae_depot, settings.connexion_dpae_retours)


def one_message_per_hire(batch_xml: bytes) -> list[bytes]:
    """Split our own FR_DUE_Upload into one message per FR_EmployeeGroup (with its employer)."""
    root = etree.fromstring(batch_xml)
    messages = []
    for dues in root.findall(XML_DUES):
        for group in dues.findall(XML_EMPLOYEE_GROUP):
            single = etree.Element(root.tag, nsmap=root.nsmap)
            single.append(deepcopy(root.find(XML_TEST)))
            new_dues = etree.SubElement(single, XML_DUES)
            new_dues.append(deepcopy(dues.find(XML_EMPLOYER_GROUP)))
            new_dues.append(deepcopy(group))
            messages.append(etree.tostring(single, xml_declaration=True, encoding="ISO-8859-1"))
    return messages


def _in_xml_order(engine: Engine, ids: list[int]) -> list[int]:
    """Contrat ids in the order of the XML's employee groups (grouped by SIRET, first seen)."""
    with engine.connect() as conn:
        sirets = {i: s for part in chunked(ids) for i, s in conn.execute(
            select(contrat.c.id, employeur.c.siret)
            .select_from(hire_salarie_employeur)
            .where(contrat.c.id.in_(part))).all()}
    first = {s: n for n, s in reversed(list(enumerate(sirets[i] for i in ids)))}
    return sorted(ids, key=lambda i: first[sirets[i]])


def send_batches_api(engine: Engine, settings: Settings) -> list[CompteRendu]:
    reports = []
    batches = pending_batches(engine)
    if not batches:
        return reports
    with Portal(settings) as portal:
        api = dpae_session(portal, settings)
        for batch in batches:
            reports.append(_send_batch(engine, settings, api, batch))
    return reports


def _send_batch(engine: Engine, settings: Settings, api: DpaeApi, batch) -> CompteRendu:
    folder = (settings.root / batch.path).parent
    if not (folder / "dpae.xml").exists():
        raise ConfigError(f"lot {batch.id} : dpae.xml absent (construisez avec --format both "
                          "pour l'API)")
    ids = _in_xml_order(engine, json.loads(batch.contrats))
    messages = one_message_per_hire((folder / "dpae.xml").read_bytes())
    uncertain = [contrat_id for contrat_id, message in zip(ids, messages, strict=True)
                 if _deposit_then_poll(engine, api, contrat_id, message, settings) == INCERTAIN]
    with engine.begin() as conn:
        conn.execute(update(dpae_batch).where(dpae_batch.c.id == batch.id)
                     .values(envoi=INCERTAIN if uncertain else "envoye",
                             envoye_at=datetime.now(UTC)))
    return _compte_rendu(engine, settings, batch.id, ids)


def _set(engine: Engine, contrat_id: int, **values: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(contrat).where(contrat.c.id == contrat_id).values(**values))


def _deposit(engine: Engine, api: DpaeApi, contrat_id: int, message: bytes,
             previous: str) -> tuple[str, str]:
    """(flow id, statut) of a deposit recorded before it is sent; no flow id when its answer
    was lost (`incertain`) or the deposit was rejected (`erreur`)."""
    _set(engine, contrat_id, statut=DEPOT_EN_COURS)
    try:
        idflux = api.deposit(message)
    except Rejected as exc:  # refused with its report: an error to correct, not a retry
        _set(engine, contrat_id, statut="erreur", message_retour=exc.report[:2000],
             code_retour="KO")
        log.warning("contrat %s: dépôt rejeté", contrat_id)
        return "", "erreur"
    except PortalError as exc:
        if exc.status is None:  # no answer: the hire may have been taken
            _set(engine, contrat_id, statut=INCERTAIN, message_retour=INCERTAIN_MESSAGE)
            log.warning("contrat %s: dépôt sans réponse (%s) : incertain", contrat_id, exc)
            return "", INCERTAIN
        _set(engine, contrat_id, statut=previous)  # answered with an error: not taken
        raise
    _set(engine, contrat_id, idflux=idflux, statut="envoye")
    return idflux, "envoye"


def _deposit_then_poll(engine: Engine, api: DpaeApi, contrat_id: int,
                       message: bytes, settings: Settings) -> str:
    """The contrat's statut once deposited (at most once) and its bilan polled."""
    with engine.connect() as conn:
        row = conn.execute(select(contrat.c.idflux, contrat.c.statut)
                           .where(contrat.c.id == contrat_id)).one()
    if row.statut in ("enregistree", "erreur", INCERTAIN):
        return row.statut
    if row.statut == DEPOT_EN_COURS:  # a crash during the call: it may have left
        _set(engine, contrat_id, statut=INCERTAIN, message_retour=INCERTAIN_MESSAGE)
        return INCERTAIN
    idflux, statut = ((row.idflux, row.statut) if row.idflux else
                      _deposit(engine, api, contrat_id, message, row.statut))
    if not idflux:
        return statut
    bilan = api.bilan(idflux, settings.api_essais, settings.api_intervalle)
    with engine.begin() as conn:
        record_bilan(conn, bilan)
    log.info("contrat %s: API bilan %s", contrat_id, bilan.etat)
    return "enregistree" if bilan.etat == "OK" else "erreur"


def _compte_rendu(engine: Engine, settings: Settings, batch_id: str, ids: list[int]):
    with engine.connect() as conn:
        rows = pd.DataFrame([row for part in chunked(ids) for row in conn.execute(
            select(contrat.c.id, employeur.c.siret, salarie.c.matricule, salarie.c.nom,
                   salarie.c.prenoms, contrat.c.date_embauche, contrat.c.heure_embauche,
                   contrat.c.nature, contrat.c.statut, contrat.c.message_retour,
                   contrat.c.certificat, contrat.c.idflux)
            .select_from(hire_salarie_employeur)
            .where(contrat.c.id.in_(part)).order_by(contrat.c.id)).all()],
            columns=["contrat_id", "siret", "matricule", "nom", "prenoms", "date_embauche",
                     "heure_embauche", "nature_contrat", "statut", "message_retour",
                     "certificat", "idflux"])
    rows["date_embauche"] = pd.to_datetime(rows["date_embauche"]).dt.strftime("%d/%m/%Y")
    rows["numero_dossier"] = ""
    rows["code_retour"] = rows["statut"].map({"enregistree": "OK", INCERTAIN: ""}).fillna("KO")
    rows["message"] = rows["message_retour"].where(
        rows["statut"] != "enregistree",
        "certificat de conformité " + rows["certificat"].str.slice(0, 24) + "… (flux "
        + rows["idflux"] + ")")
    now = datetime.now(UTC).astimezone()
    cr = CompteRendu(rows=rows, lot_codes=["API"], created=f"{now:%d/%m/%Y %H:%M}",
                     dossiers=[])
    write_compte_rendu(cr, settings.outbox / "AR" / f"api_{batch_id}_{handled_at()}",
                       f"API lot {batch_id}")
    return cr
