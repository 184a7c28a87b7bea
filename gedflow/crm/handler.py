"""Intake handler for `inbox/crm_nominatif/travail/…`: parse, reconcile, record, report."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine

from gedflow.crm import taux_sur_taux
from gedflow.crm.integrate import integrate, rates_in_force
from gedflow.crm.reconcile import REPORT_COLUMNS, reconcile
from gedflow.crm.report import markdown_summary, write_anomalies, write_reports
from gedflow.dsn import registre
from gedflow.dsn.handler import recontrol
from gedflow.errors import ConfigError
from gedflow.formats import crm as crm_format
from gedflow.formats.csv_table import to_csv_text
from gedflow.fsutil import atomic_write
from gedflow.handler import TAUX_SUR_TAUX_EVENT, Alert, Artifact, HandlerResult, Job, artifact_key
from gedflow.inbox import folder_period
from gedflow.registry import snapshot
from gedflow.settings import PARIS

ARTIFACT_ROWS = 1000  # the Prefect UI gets the differences first; the files have every row


def availability(job: Job) -> tuple[date, str]:
    """The CRM's availability date and where it came from (configured, else the file's date)."""
    if job.settings.crm_disponibilite:
        try:
            return date.fromisoformat(job.settings.crm_disponibilite), "donnée par la configuration"
        except ValueError as exc:
            raise ConfigError(
                f"crm_disponibilite : {job.settings.crm_disponibilite!r} n'est pas AAAA-MM-JJ"
            ) from exc
    mtime = datetime.fromtimestamp(job.claim.path.stat().st_mtime, tz=PARIS)
    return mtime.date(), "date de modification du fichier"


def period_of(rel: str, crm: crm_format.Crm, available: date) -> str:
    """`YYYY_MM`: the inbox folder's, else the declared month, else the availability month."""
    folder = folder_period(rel)
    if folder:
        return folder
    periods = crm.declarations["periode"]
    first = periods[periods != ""]
    when = date.fromisoformat(first.iloc[0]) if len(first) else available
    return f"{when:%Y_%m}"


def envoi_notes(crm: crm_format.Crm) -> list[str]:
    """What the report says of the file beyond its rows: a refused deposit, no identifiant."""
    notes = []
    if crm.envoi.get("etat", "").upper() == "KO":
        notes.append(f"Envoi {crm.envoi.get('idflux', '')} refusé (envoi_etat KO) : corrigez et "
                     "redéposez la déclaration.")
    if crm.envoi.get("anomalies"):
        notes.append(f"Anomalies de l'envoi : {crm.envoi['anomalies']}")
    if crm.declarations.empty:
        notes.append("Ce compte rendu ne contient aucune déclaration.")
    if crm.kind == crm_format.NOMINATIF and not crm.identifiant:
        notes.append("Ce CRM n'a pas d'identifiant : la rubrique S21.G00.50.008 ne peut pas en "
                     "être tirée.")
    if len(crm.problems):
        notes.append(f"{len(crm.problems)} valeur(s) inutilisable(s) dans le fichier (statut "
                     "invalide, en tête du détail).")
    return notes


def _registry_copy(engine: Engine, cache: Path) -> snapshot.Snapshot:
    with engine.connect() as conn:
        return snapshot.current(conn, cache)


def read_with_registry(path: Path, engine: Engine, cache: Path
                       ) -> tuple[crm_format.Crm, snapshot.Snapshot]:
    """The CRM parsed while the registry's copy is read in a thread (both work mostly outside
    the GIL, so on two cores the copy comes for free)."""
    with ThreadPoolExecutor(1) as pool:
        copy = pool.submit(_registry_copy, engine, cache)
        return crm_format.read(path), copy.result()


def handle_crm(job: Job) -> HandlerResult:
    crm, copy = read_with_registry(job.claim.path, job.engine, job.settings.cache)
    available, date_source = availability(job)
    period = period_of(job.claim.rel, crm, available)
    outdir = job.settings.outbox / "crm_nominatif" / period
    stem = Path(job.claim.rel).stem
    archived = job.archive_path.relative_to(job.settings.root).as_posix()
    notes = [f"Date de mise à disposition : {available:%d/%m/%Y} ({date_source}).",
             *envoi_notes(crm), *crm.warnings]
    title = f"CRM {crm.kind} {period} — {stem}"
    # The reports are written before the integration commits: a report that cannot be written
    # (disk full) leaves nothing integrated, and the file is processed again later.
    with job.engine.begin() as conn:
        sirets = crm.declarations["siret"].tolist()
        registry = rates_in_force(copy, sirets, available)
        rows = reconcile(crm, registry, available)
        decisions = integrate(conn, crm, rows, sha256=job.claim.sha256, source=archived,
                              available=available, threshold=job.settings.crm_seuil_sans_taux)
        report = write_reports(rows, crm, decisions, title, notes, outdir, stem)
        if crm.kind != crm_format.NOMINATIF:
            report = write_anomalies(crm, outdir / f"{stem}.anomalies.csv")
        alerts = []
        if crm.kind == crm_format.TAUX_SUR_TAUX:
            found = taux_sur_taux.rows(job.claim.path, crm, registre.load(conn, sirets))
            atomic_write(outdir / f"{stem}.taux_sur_taux.csv", to_csv_text(found))
            if len(found):
                alerts.append(Alert(TAUX_SUR_TAUX_EVENT, {
                    "fichier": stem, "nombre": len(found),
                    "sirets": ", ".join(sorted(found["siret"].unique()))}))
        integrated = [d.siret for d in decisions if d.statut == "integre"]
        if integrated:  # the DSNs controlled before this CRM came: controlled again
            recontrol(job.settings, conn, integrated, period.replace("_", "-"))
    artifacts = []
    for siret, part in rows.groupby("siret", sort=True):
        mine = [d for d in decisions if d.siret == siret]
        shown = part.sort_values("_rang", kind="stable").head(ARTIFACT_ROWS)
        artifacts.append(Artifact(
            key=artifact_key("crm", siret, period), kind="table",
            data=shown[REPORT_COLUMNS].astype(str).to_dict("records"),
            description=f"Rapprochement CRM {period}, SIRET {siret} ({len(shown)} ligne(s) sur "
                        f"{len(part)}, différences d'abord ; tout : {report.name})"))
        artifacts.append(Artifact(
            key=artifact_key("crm", siret), kind="markdown",
            data=markdown_summary(f"CRM {period} — SIRET {siret}", part, mine, notes),
            description=f"CRM nominatif par établissement : {siret}"))
    summary = {"type": crm.kind, "declarations": len(crm.declarations),
               "personnes": len(crm.salaries),
               **{d.siret: d.statut for d in decisions},
               **rows["statut"].value_counts().to_dict()}
    return HandlerResult(report_path=report, summary=summary, artifacts=artifacts,
                         alerts=alerts)
