"""DPAE acknowledgements (AR) and the "compte rendu de validation".

An AR is the same flat file returned with `R_DOSSIER`, `C_RETOUR_AR` and `C_RET_AR_LOT` filled.
Each AR record is matched to a contrat gedflow built — by our id in `LIBRE`, else by SIRET + NIR
(or birth name + birth date) + hire date and time — whether the file was sent by gedflow or
uploaded by hand. Statuts: `enregistree` (00), `enregistree_a_verifier` (98), `erreur` (any other
code), `sans_retour` (built, no AR record yet), `inconnue` (matching nothing we built).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from gedflow.db.bulk import bulk_update, read_frame
from gedflow.db.tables import (
    contrat,
    dossier,
    dpae_batch,
    employeur,
    hire_salarie_employeur,
    salarie,
)
from gedflow.dpae.build import RECORD_ID_PREFIX
from gedflow.dpae.phases import advance
from gedflow.errors import InputError
from gedflow.formats import dpae_flat
from gedflow.formats.csv_table import to_csv_text
from gedflow.formats.dpae_bilan import Bilan
from gedflow.forms import rewrite
from gedflow.fsutil import atomic_write
from gedflow.htmlreport import render, table
from schemas.dpae import CONTRACT_NATURES
from schemas.fields import AAAA_MM_JJ, HH_MM, HHMM, JJ_MM_AAAA, JJMMAAAA

log = logging.getLogger(__name__)

COMPTE_RENDU_COLUMNS = ["siret", "matricule", "nom", "prenoms", "date_embauche",
                        "heure_embauche", "nature_contrat", "statut", "numero_dossier",
                        "code_retour", "message"]
STATUT_OF_CODE = {"00": "enregistree", "98": "enregistree_a_verifier", "": "sans_retour"}
MESSAGES = {
    "enregistree": "déclaration enregistrée",
    "enregistree_a_verifier": "enregistrée, à vérifier (code 98)",
    "erreur": "rejetée : corrigez la donnée désignée par le code retour et déclarez à nouveau",
    "sans_retour": "pas encore d'accusé de réception pour cette déclaration",
    "inconnue": "déclaration absente des lots construits par gedflow",
}
HTML_REGISTERED_ROWS = 2000  # the page shows every other statut; the files have every row
# The zones an AR is read for: matching, reporting, and the codes URSSAF filled in.
AR_ZONES = ("C_APPLICATION", "LIBRE", "D_CREATION", "H_CREATION", "C_RET_AR_LOT", "N_SIRET",
            "L_NOM_PATRO_SAL", "L_PRENOMS_SAL", "N_SECU_SOC", "D_NAISSANCE_SAL", "D_EMBAUCHE",
            "H_EMBAUCHE", "R_DOSSIER", "C_RETOUR_AR", "C_TYPE_CONTRAT")


@dataclass
class CompteRendu:
    rows: pd.DataFrame
    lot_codes: list[str]
    created: str  # D_CREATION + H_CREATION of the AR's records, "JJ/MM/AAAA HH:MM"
    dossiers: list[str]  # dossiers of the declarations answered
    phases: list[str] = field(default_factory=list)  # test phases validated or not


def read_ar(source: bytes | Path) -> dpae_flat.FlatFile:
    """Parse an AR (its bytes, or the file: then read a block at a time) leniently; refuse
    what is not one (empty, not DUE records)."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            empty = not handle.read(1 << 16).strip()
    else:
        empty = not source.strip()
    if empty:
        raise InputError("fichier AR vide", code="vide",
                         todo="déposez le fichier dpae.txt reçu en retour de l'URSSAF")
    flat = (dpae_flat.read_path(source, columns=AR_ZONES) if isinstance(source, Path)
            else dpae_flat.read(source, columns=AR_ZONES))
    is_due = flat.records["C_APPLICATION"].str.strip() == "DUE"
    if flat.records.empty or not is_due.any():
        raise InputError(
            "ce n'est pas un accusé de réception DPAE (aucun enregistrement « DUE »)",
            code="pas_ar", where="ligne 1, positions 15-18",
            todo="déposez dans AR/ le fichier dpae.txt renvoyé par l'URSSAF, sans le modifier")
    bad = flat.lines[~is_due]
    if len(bad):
        raise InputError(
            f"{len(bad)} ligne(s) ne sont pas des enregistrements DPAE",
            code="pas_ar", where="ligne(s) " + ", ".join(map(str, bad.head(5))),
            todo="déposez le fichier AR tel que reçu")
    return flat


def _built(conn: Connection) -> pd.DataFrame:
    """Every contrat in a batch gedflow built, with what the AR needs to match and report."""
    batches = read_frame(conn, select(dpae_batch.c.id, dpae_batch.c.contrats),
                         ["batch_id", "contrats"])
    ids = sorted({int(i) for text in batches["contrats"] for i in json.loads(text)})
    statement = (
        select(contrat.c.id, dossier.c.code, employeur.c.siret, salarie.c.matricule,
               salarie.c.nom, salarie.c.prenoms, salarie.c.nir, salarie.c.date_naissance,
               contrat.c.date_embauche, contrat.c.heure_embauche, contrat.c.nature,
               contrat.c.batch_id)
        .select_from(hire_salarie_employeur)
        .join(dossier, dossier.c.id == employeur.c.dossier_id))
    columns = ["contrat_id", "dossier_code", "siret", "matricule", "nom", "prenoms", "nir",
               "date_naissance", "date_embauche", "heure_embauche", "nature_contrat", "batch_id"]
    people = read_frame(conn, statement, columns)  # every hire: cheaper than IN lists
    people = people[people["contrat_id"].isin(ids)].reset_index(drop=True)
    for column in ("date_naissance", "date_embauche"):
        iso = pd.Series(people[column], dtype="str").fillna("")  # SQLite: text; PostgreSQL: dates
        people[f"_{column}"] = rewrite(iso, AAAA_MM_JJ, JJMMAAAA).where(iso != "")
    people["_heure"] = rewrite(people["heure_embauche"], HH_MM, HHMM)
    people["_nom"] = people["nom"].str.upper()
    return people


def _match(records: pd.DataFrame, built: pd.DataFrame) -> pd.Series:
    """contrat id per AR record (<NA> when none): our LIBRE id first, then identity keys."""
    libre = records["LIBRE"].str.strip()
    by_id = pd.to_numeric(libre.str.removeprefix(RECORD_ID_PREFIX).where(
        libre.str.startswith(RECORD_ID_PREFIX)), errors="coerce").astype("Int64")
    by_id = by_id.where(by_id.isin(built["contrat_id"]))
    keys = records.assign(_row=np.arange(len(records)))
    with_nir = keys.merge(built[built["nir"] != ""].assign(N_SECU_SOC=lambda b: b["nir"].str[:13]),
                          left_on=["N_SIRET", "N_SECU_SOC", "D_EMBAUCHE", "H_EMBAUCHE"],
                          right_on=["siret", "N_SECU_SOC", "_date_embauche", "_heure"])
    by_identity = keys.merge(built, left_on=["N_SIRET", "L_NOM_PATRO_SAL", "D_NAISSANCE_SAL",
                                             "D_EMBAUCHE", "H_EMBAUCHE"],
                             right_on=["siret", "_nom", "_date_naissance", "_date_embauche",
                                       "_heure"])
    fallback = pd.concat([with_nir, by_identity]).drop_duplicates("_row").set_index("_row")
    found = pd.Series(fallback["contrat_id"], dtype="Int64").reindex(range(len(records)))
    return by_id.fillna(found).astype("Int64")


def _slashed(jjmmaaaa: pd.Series) -> pd.Series:
    """JJMMAAAA → JJ/MM/AAAA when it is a date, else the value as given."""
    text = pd.Series(jjmmaaaa, dtype="str").fillna("")
    distinct = text.drop_duplicates()
    valid = pd.to_datetime(distinct, format=JJMMAAAA.pattern, errors="coerce").notna()
    return rewrite(text, JJMMAAAA, JJ_MM_AAAA).where(text.isin(distinct[valid.to_numpy()]), text)


def compte_rendu(conn: Connection, flat: dpae_flat.FlatFile) -> CompteRendu:
    """The statut of every declaration the AR speaks of, and of the rest of their batches."""
    built = _built(conn)
    records = flat.records.reset_index(drop=True)
    matched = records.assign(contrat_id=_match(records, built))
    code = matched["C_RETOUR_AR"].str.strip()
    statut = code.map(STATUT_OF_CODE).fillna("erreur").where(matched["contrat_id"].notna(),
                                                              "inconnue")
    answered = matched.assign(statut=statut, code_retour=code,
                              numero_dossier=matched["R_DOSSIER"].str.strip())
    known = answered.merge(built, on="contrat_id", how="left")
    rows = pd.DataFrame({
        "contrat_id": known["contrat_id"],
        "siret": known["N_SIRET"],
        "matricule": known["matricule"].fillna(""),
        "nom": known["L_NOM_PATRO_SAL"],
        "prenoms": known["L_PRENOMS_SAL"],
        "date_embauche": _slashed(known["D_EMBAUCHE"]),
        "heure_embauche": known["H_EMBAUCHE"].str[:2] + ":" + known["H_EMBAUCHE"].str[2:],
        "nature_contrat": known["C_TYPE_CONTRAT"].map(CONTRACT_NATURES).fillna(""),
        "statut": known["statut"],
        "numero_dossier": known["numero_dossier"],
        "code_retour": known["code_retour"],
    })
    batches = set(known["batch_id"].dropna().unique())
    silent = built[built["batch_id"].isin(batches) & ~built["contrat_id"].isin(rows["contrat_id"])]
    missing = pd.DataFrame({
        "contrat_id": silent["contrat_id"], "siret": silent["siret"],
        "matricule": silent["matricule"], "nom": silent["nom"], "prenoms": silent["prenoms"],
        "date_embauche": _slashed(silent["_date_embauche"]),
        "heure_embauche": silent["heure_embauche"], "nature_contrat": silent["nature_contrat"],
        "statut": "sans_retour", "numero_dossier": "", "code_retour": "",
    })
    rows = pd.concat([rows, missing], ignore_index=True)
    rows["message"] = rows["statut"].map(MESSAGES)
    rows.loc[rows["statut"] == "erreur", "message"] = (
        "rejetée (code " + rows["code_retour"] + ") : corrigez la donnée en cause et déclarez "
        "à nouveau")
    created = records.iloc[0]
    answered_dossiers = known.loc[known["contrat_id"].notna(), "dossier_code"]
    return CompteRendu(
        dossiers=sorted(set(answered_dossiers.dropna().unique())),
        rows=rows,
        lot_codes=sorted(set(records["C_RET_AR_LOT"].str.strip().unique()) - {""}),
        created=f"{created['D_CREATION'][:2]}/{created['D_CREATION'][2:4]}/"
                f"{created['D_CREATION'][4:]} {created['H_CREATION'][:2]}:"
                f"{created['H_CREATION'][2:]}",
    )


def record_statuts(conn: Connection, cr: CompteRendu) -> None:
    """The registry's contrats take the AR's statut, dossier number and return code."""
    answered = cr.rows[cr.rows["contrat_id"].notna() & (cr.rows["statut"] != "sans_retour")]
    bulk_update(conn, contrat, ["statut", "numero_dossier", "code_retour"],
                [(s, d, c, int(i)) for s, d, c, i in answered[
                    ["statut", "numero_dossier", "code_retour", "contrat_id"]].itertuples(
                        index=False)])


def advance_phases(conn: Connection, cr: CompteRendu) -> None:
    """An AR whose lot code is 00 validates the test phase of the dossiers it answers."""
    lot = cr.lot_codes[0] if len(cr.lot_codes) == 1 else "/".join(cr.lot_codes)
    cr.phases = [m for code in cr.dossiers if (m := advance(conn, code, lot))]


def text_version(cr: CompteRendu, source: str) -> str:
    """Shaped like the URSSAF's own compte rendu example."""
    sirets = " ".join(sorted(cr.rows["siret"].unique()))
    lines = [f"COMPTE RENDU DE VALIDATION DPAE - fichier {source} du {cr.created} - SIRET {sirets}",
             f"LOT  code retour lot {' '.join(cr.lot_codes) or '(vide)'}"]
    labels = {"enregistree": "ENREGISTREE", "enregistree_a_verifier": "A VERIFIER",
              "erreur": "ERREUR", "sans_retour": "SANS RETOUR", "inconnue": "INCONNUE",
              "incertain": "INCERTAIN"}
    rows = cr.rows.reset_index(drop=True).astype({c: "str" for c in (
        "nom", "prenoms", "date_embauche", "heure_embauche", "nature_contrat", "statut",
        "numero_dossier", "code_retour")})
    detail = pd.Series(np.select(
        [rows["statut"].str.startswith("enregistree").to_numpy(),
         (rows["statut"] == "erreur").to_numpy()],
        [("dossier " + rows["numero_dossier"]).to_numpy(),
         ("code " + rows["code_retour"]).to_numpy()], ""), dtype="str")
    who = (rows["nom"] + " " + rows["prenoms"]).str.strip().str.ljust(24)
    records = (pd.Series(np.arange(1, len(rows) + 1)).astype("str") + "  " + who + "embauche "
               + rows["date_embauche"] + " " + rows["heure_embauche"] + " "
               + rows["nature_contrat"].str.ljust(4) + rows["statut"].map(labels).str.ljust(12)
               + detail).str.rstrip()
    lines += records.tolist()
    counts = cr.rows["statut"].value_counts()
    lines.append(
        f"TOTAL {len(cr.rows)} déclarations : "
        f"{int(counts.get('enregistree', 0) + counts.get('enregistree_a_verifier', 0))} "
        f"enregistrée(s), {int(counts.get('erreur', 0))} en erreur, "
        f"{int(counts.get('sans_retour', 0))} sans retour, {int(counts.get('inconnue', 0))} "
        "inconnue(s)")
    lines += [f"PHASE {message}" for message in cr.phases]
    return "\n".join(lines) + "\n"


def write_compte_rendu(cr: CompteRendu, folder: Path, source: str) -> Path:
    csv_path = atomic_write(folder / "compte_rendu.csv", to_csv_text(cr.rows[COMPTE_RENDU_COLUMNS]))
    text = text_version(cr, source)
    atomic_write(folder / "compte_rendu.txt", text)
    title = f"Compte rendu de validation DPAE — {source}"
    registered = (cr.rows["statut"] == "enregistree").to_numpy()
    shown = cr.rows[~registered | (np.cumsum(registered) <= HTML_REGISTERED_ROWS)]
    lines = text.splitlines()
    if len(shown) < len(cr.rows):  # the page keeps the header, the lot, the total, the phases
        lines = [*lines[:2], f"… {len(cr.rows) - len(shown)} déclaration(s) enregistrée(s) de "
                 "plus dans compte_rendu.csv et compte_rendu.txt", *lines[2 + len(cr.rows):]]
    atomic_write(folder / "compte_rendu.html", render(
        "compte_rendu.html", title=title, text="\n".join(lines) + "\n",
        rows=table(shown, {c: c for c in COMPTE_RENDU_COLUMNS}, "statut")))
    return csv_path


def handled_at() -> str:
    return datetime.now(UTC).astimezone().strftime("%Y%m%d_%H%M%S")


def is_xml(raw: bytes) -> bool:
    return raw.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def record_bilan(conn: Connection, bilan: Bilan) -> int:
    """The bilan's verdict on the contrat deposited as its flow; returns the contrat's id."""
    found = conn.execute(select(contrat.c.id).where(contrat.c.idflux == bilan.idflux)).scalar()
    if found is None:
        raise InputError(f"aucune déclaration envoyée sous le flux {bilan.idflux}",
                         code="inconnue",
                         todo="vérifiez que le bilan vient d'un envoi fait par gedflow (API)")
    ok = bilan.etat == "OK"
    conn.execute(contrat.update().where(contrat.c.id == found).values(
        statut="enregistree" if ok else "erreur", certificat=bilan.certificat,
        message_retour=bilan.message, code_retour="" if ok else "KO"))
    return found
