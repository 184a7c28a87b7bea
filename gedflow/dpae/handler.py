"""Intake handler for `inbox/dpae/*.csv`: the test de préparation, and the file if allowed."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import PurePosixPath

import pandas as pd

from gedflow.db.engine import migrate
from gedflow.dpae.ar import (
    advance_phases,
    compte_rendu,
    handled_at,
    is_xml,
    read_ar,
    record_bilan,
    record_statuts,
    write_compte_rendu,
)
from gedflow.dpae.prepare import Options, Preparation, hires_from_csv, hires_from_registry, prepare
from gedflow.dpae.report import write_reports
from gedflow.dsn.handler import recontrol
from gedflow.errors import ConfigError, InputError
from gedflow.formats import dpae_bilan
from gedflow.fsutil import free_name, mapped
from gedflow.handler import Artifact, HandlerResult, Job
from gedflow.settings import PARIS, Settings
from schemas.dpae import HIRES
from schemas.fields import JJ_MM_AAAA


def reference_time(settings: Settings, given: str | None = None) -> datetime:
    """The moment the 8-day rule is evaluated at: given, configured, or now (Paris time)."""
    text = given or settings.dpae_maintenant
    if not text:
        return datetime.now(PARIS).replace(tzinfo=None)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise ConfigError(f"maintenant : {text!r} n'est pas AAAA-MM-JJTHH:MM") from exc


def options(settings: Settings, mode: str | None = None, fmt: str | None = None) -> Options:
    newline = {"lf": "\n", "crlf": "\r\n"}.get(settings.dpae_fin_de_ligne)
    if newline is None:
        raise ConfigError("dpae_fin_de_ligne : lf ou crlf")
    chosen = mode or settings.dpae_mode
    if chosen not in ("test", "reel"):
        raise ConfigError(f"mode {chosen!r} : test ou reel")
    return Options(mode=chosen, format=fmt or settings.dpae_format,
                   encoding=settings.dpae_encodage, newline=newline,
                   gnupg_home=settings.gnupg_home)


def handle_dpae(job: Job) -> HandlerResult:
    if not job.claim.rel.lower().endswith(".csv"):
        raise InputError("seuls les fichiers .csv d'embauches sont lus ici", code="nom_fichier",
                         todo="déposez un CSV avec l'en-tête : " + ";".join(HIRES.header))
    with mapped(job.claim.path) as data:  # read a block at a time, not loaded whole
        hires, bad = hires_from_csv(data)
    result = prepare(job.engine, hires, now=reference_time(job.settings),
                     outbox=job.settings.outbox, root=job.settings.root,
                     options=options(job.settings), bad_lines=bad)
    csv_path, _html = write_reports(result, f"Test de préparation DPAE — {job.claim.rel}")
    rows = result.issues.drop(columns="_row").astype(str).replace({"<NA>": ""})
    return HandlerResult(
        report_path=csv_path,
        summary={"embauches": len(result.hires), "erreurs": result.errors,
                 "avertissements": result.warnings, "construites": result.built,
                 "lot": result.batch_id},
        artifacts=[Artifact(key="dpae-preparation", kind="table",
                            data=rows.to_dict("records"),
                            description=f"Test de préparation : {result.note}")],
    )


def handle_ar(job: Job) -> HandlerResult:
    """Intake handler for `inbox/AR/`: the compte rendu de validation of a DPAE AR (flat), or
    an API bilan (XML) recorded on the contrat of its flow."""
    with job.claim.path.open("rb") as handle:
        head = handle.read(1 << 12)
    if is_xml(head):
        bilan = dpae_bilan.read(job.claim.path, job.claim.rel)
        with job.engine.begin() as conn:
            contrat_id = record_bilan(conn, bilan)
        return HandlerResult(summary={"idflux": bilan.idflux, "etat": bilan.etat,
                                      "contrat": contrat_id})
    flat = read_ar(job.claim.path)
    with job.engine.begin() as conn:
        cr = compte_rendu(conn, flat)
        record_statuts(conn, cr)
        advance_phases(conn, cr)
        hired = pd.to_datetime(cr.rows["date_embauche"], format=JJ_MM_AAAA.pattern, errors="coerce")
        if hired.notna().any():  # the DSNs controlled before this AR came: controlled again
            recontrol(job.settings, conn, sorted(cr.rows["siret"].dropna().unique()),
                      f"{hired.min():%Y-%m}")
    stem = PurePosixPath(job.claim.rel).stem
    folder = free_name(job.settings.outbox / "AR" / f"{stem}_{handled_at()}", datetime.now(PARIS))
    report = write_compte_rendu(cr, folder, PurePosixPath(job.claim.rel).name)
    rows = cr.rows.drop(columns="contrat_id").astype(str).replace({"<NA>": ""})
    counts = cr.rows["statut"].value_counts().to_dict()
    return HandlerResult(
        report_path=report,
        summary={"declarations": len(cr.rows), **{k: int(v) for k, v in counts.items()}},
        artifacts=[Artifact(key="dpae-compte-rendu", kind="table", data=rows.to_dict("records"),
                            description=f"Compte rendu de validation DPAE : {job.claim.rel}")],
    )


def prepare_dossier(settings: Settings, dossier_code: str, mode: str | None, fmt: str | None,
                    siret: str | None = None, du: date | None = None, au: date | None = None,
                    maintenant: str | None = None) -> Preparation | None:
    """The préparation of the dossier's hires to declare, from the registry (None: none)."""
    engine = migrate(settings.registry_url)
    with engine.connect() as conn:
        hires = hires_from_registry(conn, dossier_code, siret, du, au)
    if hires.empty:
        return None
    return prepare(engine, hires, now=reference_time(settings, maintenant),
                   outbox=settings.outbox, root=settings.root,
                   options=options(settings, mode, fmt), dossier_code=dossier_code)
