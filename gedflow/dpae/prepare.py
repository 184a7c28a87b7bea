"""DPAE preparation: hires (a dropped CSV, or contrats already in the registry) → registry
contrats → test de préparation → report, and `dpae.txt` / `dpae.xml` when the mode allows.

Mode `test`: the report, and the file built from the hires without errors, for inspection.
Mode `reel`: nothing is built while any `erreur` remains; otherwise the file is built and the
contrats become `pret_a_envoyer` with the batch id. The dossier's phase sets C_VERSION
(`TST` until `production`, then `120`). Every batch built is recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, and_, select

from gedflow.checks import check_field, parse_dates
from gedflow.crypto import KeyProblem, check_recipient, encrypt_file
from gedflow.db.bulk import bulk_update, bulk_upsert, db_timestamp, read_frame
from gedflow.db.tables import (
    contrat,
    dossier,
    dpae_batch,
    employeur,
    hire_salarie_employeur,
    salarie,
)
from gedflow.dpae.build import flat_records, xml_message
from gedflow.dpae.phases import phase_of
from gedflow.dpae.validate import ERREUR, ISSUE_COLUMNS, validate
from gedflow.errors import GedflowError
from gedflow.formats import dpae_flat
from gedflow.formats.csv_table import read_csv_table, to_csv_text
from gedflow.fsutil import atomic_write
from schemas.dpae import HIRES
from schemas.fields import HH_MM, JJ_MM_AAAA

log = logging.getLogger(__name__)

# A hire in one of these is declared (or may be: an uncertain deposit): never declared again.
DECLARED = ("pret_a_envoyer", "envoye", "enregistree", "enregistree_a_verifier",
            "depot_en_cours", "incertain")
TO_DECLARE = ("a_declarer", "a_corriger")
EMPLOYER_COLUMNS = ["raison_sociale", "ape", "adresse1", "adresse2", "code_postal", "ville",
                    "telephone", "code_urssaf", "code_sst", "email_ar"]
FORMATS = ("flat", "xml", "both")


@dataclass(frozen=True)
class Options:
    mode: str = "test"  # test | reel
    format: str = "flat"  # flat | xml | both
    encoding: str = "iso-8859-1"
    newline: str = "\n"
    gnupg_home: Path | None = None  # mode reel: dpae.txt is also encrypted to dpae.txt.gpg


@dataclass
class Preparation:
    """What a preparation did: the issues, the hires, and the files written."""

    hires: pd.DataFrame
    issues: pd.DataFrame
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    batch_id: str = ""
    built: int = 0
    note: str = ""

    @property
    def errors(self) -> int:
        return int((self.issues["gravite"] == ERREUR).sum())

    @property
    def warnings(self) -> int:
        return int((self.issues["gravite"] != ERREUR).sum())


def normalise_hires(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each hire column normalised by its declared kind (M/F, upper NIR, canonical codes…),
    and the verdict on each value ("" when valid) for `validate`."""
    out, verdicts = rows.copy(), pd.DataFrame(index=rows.index)
    for fld in HIRES.fields:
        out[fld.name], verdicts[fld.name] = check_field(rows[fld.name].fillna("").astype(str), fld)
    return out, verdicts


def _employers(conn: Connection, sirets: list[str], dossier_code: str | None) -> pd.DataFrame:
    """Registry employer data per SIRET (one dossier when given; else a SIRET in two dossiers
    is ambiguous and left out)."""
    statement = (
        select(employeur.c.siret, employeur.c.id, dossier.c.code, dossier.c.phase,
               *[employeur.c[c] for c in EMPLOYER_COLUMNS])
        .join(dossier, dossier.c.id == employeur.c.dossier_id)
        .where(employeur.c.siret.in_(sirets))
    )
    if dossier_code:
        statement = statement.where(dossier.c.code == dossier_code)
    frame = read_frame(conn, statement, ["siret", "employeur_id", "dossier_code", "dossier_phase",
                                         *[f"employeur_{c}" for c in EMPLOYER_COLUMNS]])
    return frame[~frame["siret"].duplicated(keep=False)]


def _attach_employers(conn: Connection, hires: pd.DataFrame, dossier_code: str | None):
    employers = _employers(conn, hires["siret"].unique().tolist(), dossier_code)
    merged = hires.merge(employers, on="siret", how="left")
    merged["employeur_connu"] = merged["employeur_id"].notna()
    merged["employeur_id"] = merged["employeur_id"].astype("Int64")
    for column in [f"employeur_{c}" for c in EMPLOYER_COLUMNS]:
        merged[column] = merged[column].fillna("").astype(str)
    return merged


def _record_contrats(conn: Connection, hires: pd.DataFrame) -> pd.DataFrame:
    """Upsert the salariés and contrats of hires whose keys are usable; add `contrat_id`."""
    usable = (hires["employeur_connu"] & (hires["matricule"] != "")
              & parse_dates(hires["date_embauche"]).notna()
              & hires["heure_embauche"].str.fullmatch(HH_MM.regex))
    rows = hires[usable]
    if not rows.empty:
        employer_ids = [int(i) for i in rows["employeur_id"].unique()]
        existing = read_frame(conn, select(salarie.c.employeur_id, salarie.c.matricule,
                                           salarie.c.nir).where(
            salarie.c.employeur_id.in_(employer_ids)), ["employeur_id", "matricule", "nir_reg"])
        people = rows.assign(employeur_id=rows["employeur_id"].astype("int64")).merge(
            existing, on=["employeur_id", "matricule"], how="left")
        people["nir"] = people["nir"].where(people["nir"] != "", people["nir_reg"].fillna(""))
        people["date_naissance"] = parse_dates(people["date_naissance"])
        bulk_upsert(conn, salarie, people[[
            "employeur_id", "matricule", "nir", "nom", "nom_usage", "prenoms", "sexe",
            "date_naissance", "lieu_naissance", "dept_naissance"]].drop_duplicates(
            ["employeur_id", "matricule"]), ["employeur_id", "matricule"])
        ids = read_frame(conn, select(salarie.c.employeur_id, salarie.c.matricule, salarie.c.id)
                         .where(salarie.c.employeur_id.in_(employer_ids)),
                         ["employeur_id", "matricule", "salarie_id"])
        people = people.merge(ids, on=["employeur_id", "matricule"])
        essai = pd.to_numeric(people["essai_jours"], errors="coerce")
        bulk_upsert(conn, contrat, pd.DataFrame({
            "salarie_id": people["salarie_id"],
            "date_embauche": parse_dates(people["date_embauche"]),
            "heure_embauche": people["heure_embauche"],
            "nature": people["nature_contrat"],
            "date_fin": parse_dates(people["date_fin"]),
            "essai_jours": essai.astype(object).where(essai.notna(), None),
            "created_at": db_timestamp(datetime.now(UTC)),
        }).drop_duplicates(["salarie_id", "date_embauche", "heure_embauche"]),
            ["salarie_id", "date_embauche", "heure_embauche"])
    return _with_contrat_ids(conn, hires)


def _with_contrat_ids(conn: Connection, hires: pd.DataFrame) -> pd.DataFrame:
    employer_ids = [int(i) for i in hires["employeur_id"].dropna().unique()]
    found = read_frame(conn, select(
        salarie.c.employeur_id, salarie.c.matricule, contrat.c.date_embauche,
        contrat.c.heure_embauche, contrat.c.id, contrat.c.statut)
        .join(contrat, contrat.c.salarie_id == salarie.c.id)
        .where(salarie.c.employeur_id.in_(employer_ids)),
        ["employeur_id", "matricule", "d", "heure_embauche", "contrat_id", "statut"])
    found["date_embauche"] = pd.to_datetime(found["d"]).dt.strftime("%d/%m/%Y")
    keys = ["employeur_id", "matricule", "date_embauche", "heure_embauche"]
    merged = hires.drop(columns=["contrat_id", "statut"], errors="ignore").merge(
        found.drop(columns="d"), on=keys, how="left")
    merged["contrat_id"] = merged["contrat_id"].astype("Int64")
    return merged


def hires_from_csv(raw) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: ANN001 - or a mapped file
    """The dropped hires file as text rows with their line numbers (`ligne`), and the lines
    that could not be read (wrong number of fields)."""
    table = read_csv_table(raw, HIRES.header)
    rows = table.rows.assign(ligne=table.lines.astype("Int64"))
    return rows, table.bad


def hires_from_registry(conn: Connection, dossier_code: str, siret: str | None,
                        du: date | None, au: date | None) -> pd.DataFrame:
    """Contrats still to declare of a dossier (optionally one SIRET, a hiring period)."""
    source = {"siret": employeur.c.siret, "nature_contrat": contrat.c.nature,
              **{name: salarie.c[name] for name in HIRES.header if name in salarie.c},
              **{name: contrat.c[name] for name in HIRES.header if name in contrat.c}}
    statement = (
        select(*[source[name].label(name) for name in HIRES.header])
        .select_from(hire_salarie_employeur)
        .join(dossier, dossier.c.id == employeur.c.dossier_id)
        .where(and_(dossier.c.code == dossier_code, contrat.c.statut.in_(TO_DECLARE)))
    )
    if siret:
        statement = statement.where(employeur.c.siret == siret)
    if du:
        statement = statement.where(contrat.c.date_embauche >= du)
    if au:
        statement = statement.where(contrat.c.date_embauche <= au)
    rows = read_frame(conn, statement, list(HIRES.header))
    for column in ("date_naissance", "date_embauche", "date_fin"):
        parsed = pd.to_datetime(rows[column], errors="coerce")
        rows[column] = parsed.dt.strftime(JJ_MM_AAAA.pattern).fillna("")
    essai = pd.to_numeric(rows["essai_jours"], errors="coerce")
    rows["essai_jours"] = essai.astype("Int64").astype(str).replace("<NA>", "")
    return rows.fillna("").astype(str).assign(ligne=pd.Series(pd.NA, index=rows.index,
                                                              dtype="Int64"))


def _folder(outbox: Path, now: datetime) -> Path:
    base = outbox / "dpae" / now.strftime("%Y%m%d_%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        candidate, n = base.with_name(f"{base.name}_{n}"), n + 1
    return candidate


def _build(conn: Connection, good: pd.DataFrame, options: Options, folder: Path,
           created: datetime, root: Path) -> tuple[str, dict[str, Path]]:
    version = np.where(good["dossier_phase"] == "production", "120", "TST")
    files: dict[str, Path] = {}
    if options.format in ("flat", "both"):
        records = flat_records(good, "", created).assign(C_VERSION=version)
        data = dpae_flat.write(records, encoding=options.encoding, newline=options.newline)
        files["dpae.txt"] = atomic_write(folder / "dpae.txt", data)
    if options.format in ("xml", "both"):
        files["dpae.xml"] = atomic_write(
            folder / "dpae.xml", xml_message(good, "TST" if (version == "TST").any() else "120"))
    main = files.get("dpae.txt") or files["dpae.xml"]
    digest = hashlib.sha256(main.read_bytes()).hexdigest()
    batch_id = f"{created:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    conn.execute(dpae_batch.insert().values(
        id=batch_id, mode=options.mode, format=options.format, records=len(good), sha256=digest,
        path=main.relative_to(root).as_posix(),
        contrats=json.dumps([int(i) for i in good["contrat_id"]]), created_at=datetime.now(UTC)))
    return batch_id, files


def _set_statut(conn: Connection, ids: pd.Series, statut: str, batch_id: str = "") -> None:
    bulk_update(conn, contrat, ["statut", "batch_id"],
                [(statut, batch_id, int(i)) for i in ids.dropna().unique()])


def prepare(
    engine: Engine,
    hires: pd.DataFrame,
    *,
    now: datetime,
    outbox: Path,
    root: Path,
    options: Options,
    dossier_code: str | None = None,
    bad_lines: pd.DataFrame | None = None,
) -> Preparation:
    """Check hires, record them as contrats, build what the mode allows, write the report."""
    if options.format not in FORMATS:
        raise GedflowError(f"format {options.format!r} : flat, xml ou both")
    folder = _folder(outbox, datetime.now(UTC).astimezone())
    with engine.begin() as conn:
        normalised, verdicts = normalise_hires(hires)
        h = _attach_employers(conn, normalised, dossier_code)
        h = _record_contrats(conn, h).reset_index(drop=True)  # row order kept by left merges
        declared = h.loc[h["statut"].isin(DECLARED), ["contrat_id"]]
        issues = validate(h, now, declared, verdicts)
        if bad_lines is not None and len(bad_lines):
            issues = pd.concat([issues, _line_issues(bad_lines)], ignore_index=True)
        wrong = issues.loc[issues["gravite"] == ERREUR, "_row"]
        good = h[~h.index.isin(wrong) & h["contrat_id"].notna()]
        _set_statut(conn, h.loc[h.index.isin(wrong) & ~h["statut"].isin(DECLARED), "contrat_id"],
                    "a_corriger")
        result = Preparation(hires=h, issues=issues, folder=folder)
        if options.mode == "reel" and result.errors:
            result.note = (f"mode réel : {result.errors} erreur(s) à corriger, aucun fichier "
                           "construit (tant que ces erreurs subsistent, rien ne peut partir)")
        elif good.empty:
            result.note = "aucune embauche sans erreur : aucun fichier construit"
        elif options.mode == "reel" and (problem := _key_problem(conn, good, options)):
            result.note = f"mode réel : aucun fichier construit ({problem})"
        else:
            result.batch_id, result.files = _build(conn, good, options, folder, now, root)
            result.built = len(good)
            if options.mode == "reel" and options.gnupg_home is not None:
                key = phase_of(conn, good["dossier_code"].iloc[0]).key
                result.files["dpae.txt.gpg"] = encrypt_file(
                    options.gnupg_home, key, result.files["dpae.txt"], folder / "dpae.txt.gpg")
            if options.mode == "reel":
                _set_statut(conn, good["contrat_id"], "pret_a_envoyer", result.batch_id)
                result.note = f"mode réel : {len(good)} déclaration(s) prête(s) à envoyer"
            else:
                _set_statut(conn, good["contrat_id"], "a_declarer")
                result.note = (f"mode test : fichier construit pour contrôle ({len(good)} "
                               "embauche(s) sans erreur) ; rien n'est envoyé")
    log.info("dpae preparation: %d hires, %d errors, %d built", len(h), result.errors,
             result.built)
    return result


def _key_problem(conn: Connection, good: pd.DataFrame, options: Options) -> str:
    """Why a real batch cannot be encrypted ("" when it can): one dossier, a usable key."""
    if options.gnupg_home is None:
        return ""
    dossiers = sorted(good["dossier_code"].unique())
    if len(dossiers) != 1:
        return "un lot réel par dossier : " + ", ".join(dossiers)
    try:
        check_recipient(options.gnupg_home, phase_of(conn, dossiers[0]).key)
    except KeyProblem as exc:
        return f"{exc} ; rien n'est envoyé"
    if options.format == "xml":
        return "le chiffrement porte sur dpae.txt : format flat ou both"
    return ""


def _line_issues(bad: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ligne": bad["ligne"].astype("Int64"), "siret": "", "matricule": "",
                         "nom": "", "champ": "", "code": "FORMAT", "gravite": ERREUR,
                         "message": "ligne illisible : " + bad["valeur"] + ", " + bad["erreur"],
                         "_row": -1})


def report_csv(issues: pd.DataFrame) -> str:
    table = issues[ISSUE_COLUMNS].copy()
    table["ligne"] = table["ligne"].astype("Int64").astype(str).replace("<NA>", "")
    return to_csv_text(table)
