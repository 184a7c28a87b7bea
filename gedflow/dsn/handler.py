"""Intake handler for `inbox/dsn/` (optionally `inbox/dsn/<DOSSIER>/…`): read the DSN
leniently, feed the registry from its réel monthly declarations, control it against the CRMs
and DPAE the registry holds, report. Reports in `outbox/dsn/YYYY_MM/`: `<stem>.lecture.csv`
(every reading problem), `<stem>.dsn.html`, and the controls' `<stem>.controle_pas.csv`,
`<stem>.embauches.csv` and `<stem>.controle.html`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import pandas as pd
from sqlalchemy import Connection, select, update

from gedflow.db.tables import dsn_declaration
from gedflow.dsn import controle, registre, report
from gedflow.dsn.feed import Fed, dossier_of_siret, feed
from gedflow.dsn.read import DsnView, view
from gedflow.errors import InputError
from gedflow.formats import dsn as dsn_format
from gedflow.formats.csv_table import to_csv_text
from gedflow.fsutil import atomic_write
from gedflow.handler import Alert, Artifact, HandlerResult, Job, artifact_key
from gedflow.htmlreport import render, table
from gedflow.settings import PARIS, Settings
from schemas.dsn import AVERTISSEMENT, ERREUR, LECTURE_COLUMNS

DECLARATION_HEADINGS = {"siret": "SIRET", "mois": "mois", "nature": "nature", "type": "type",
                        "statut": "statut", "raison": "détail", "salaries_crees": "salariés créés",
                        "salaries_maj": "salariés mis à jour", "contrats_crees": "contrats créés",
                        "contrats_maj": "contrats mis à jour", "versements": "versements"}


def dossier_from_path(rel: str) -> str | None:
    """`dsn/<DOSSIER>/…/file` → the dossier; a file at the top of `dsn/` names none."""
    parts = PurePosixPath(rel).parts
    return parts[1] if len(parts) > 2 else None


def period(dsn_view: DsnView) -> str:
    months = dsn_view.declarations["mois"]
    first = months[months != ""]
    return (first.iloc[0][:7].replace("-", "_") if len(first)
            else f"{datetime.now(PARIS):%Y_%m}")


def _check_dossiers(conn: Connection, dsn_view: DsnView, code: str | None) -> None:
    if code is not None:
        return
    wanted = dsn_view.declarations[dsn_view.declarations["reel"]
                                   & dsn_view.declarations["a_integrer"]]
    unknown = [s for s in wanted["siret"] if dossier_of_siret(conn, s) is None]
    if unknown:
        raise InputError(
            f"établissement inconnu : {', '.join(unknown[:3])}",
            code="etablissement_inconnu", where="S21.G00.06.001 + S21.G00.11.001",
            todo="déposez la DSN dans inbox/dsn/<DOSSIER>/ (le dossier est créé s'il n'existe "
                 "pas)")


def write_reports(dsn: dsn_format.Dsn, dsn_view: DsnView, fed: list[Fed], folder: Path,
                  stem: str, title: str) -> Path:
    lecture = atomic_write(folder / f"{stem}.lecture.csv",
                           to_csv_text(dsn.problems[LECTURE_COLUMNS]))
    decls = dsn_view.declarations.reset_index(drop=True)
    rows = pd.DataFrame([asdict(f) for f in fed]).assign(nature=decls["nature"],
                                                        type=decls["type"]) if fed else decls
    atomic_write(folder / f"{stem}.dsn.html", render(
        "dsn.html", title=title, encoding=dsn.encoding, lines=dsn.lines,
        individus=len(dsn_view.individus), contrats=len(dsn_view.contrats),
        versements=len(dsn_view.versements), notes=dsn.warnings,
        problems=table(dsn.problems, {c: c for c in LECTURE_COLUMNS}, "code")
        if len(dsn.problems) else "",
        declarations=table(rows, {c: h for c, h in DECLARATION_HEADINGS.items() if c in rows},
                           "statut")))
    return lecture


def _record_counts(conn: Connection, source: str, pas: pd.DataFrame,
                   hires: pd.DataFrame) -> None:
    """What the controls found, on the file's declarations (per SIRET), for the board."""
    both = pd.concat([pas, hires], ignore_index=True)
    for siret, mine in both.groupby("siret"):
        conn.execute(update(dsn_declaration).where(dsn_declaration.c.source == source)
                     .where(dsn_declaration.c.siret == siret).values(
            controle_erreurs=int((mine["gravite"] == ERREUR).sum()),
            controle_avertissements=int((mine["gravite"] == AVERTISSEMENT).sum()),
            dpae_manquantes=int((mine["code"] == "DPAE_MANQUANTE").sum())))


def control(conn: Connection, dsn_view: DsnView, folder: Path, stem: str, when: str,
            source: str) -> tuple[Path, list[Artifact], list[Alert]]:
    """The DSN's controls against the registry as it is now: reports, counts on its recorded
    declarations (`source`: where it is archived), artifacts, alerts."""
    found = registre.load(conn, sorted(set(dsn_view.declarations["siret"])))
    pas, hires = controle.controls(dsn_view, found)
    _record_counts(conn, source, pas, hires)
    page = report.write(pas, hires, folder, stem, f"Contrôle DSN {when} — {stem}")
    month = when.replace("_", "-")
    return page, report.artifacts(pas, hires, month), report.alerts(pas, hires, stem)


def handle_dsn(job: Job) -> HandlerResult:
    dsn = dsn_format.read_path(job.claim.path)
    dsn_view = view(dsn)
    code = dossier_from_path(job.claim.rel)
    stem = Path(job.claim.rel).stem
    when = period(dsn_view)
    folder = job.settings.outbox / "dsn" / when
    archived = job.archive_path.relative_to(job.settings.root).as_posix()
    with job.engine.begin() as conn:
        _check_dossiers(conn, dsn_view, code)
        fed = feed(conn, dsn_view, code, job.claim.sha256, archived)
        report_path = write_reports(dsn, dsn_view, fed, folder, stem, f"DSN {when} — {stem}")
        _page, controls, alerts = control(conn, dsn_view, folder, stem, when, archived)
    artifacts = [Artifact(
        key=artifact_key("dsn", f.siret, (f.mois or when.replace("_", "-"))[:7]), kind="markdown",
        data=(f"# DSN {f.mois[:7] or when} — SIRET {f.siret}\n\n- statut : {f.statut}\n"
              f"- {f.raison}\n- salariés créés / mis à jour : {f.salaries_crees} / "
              f"{f.salaries_maj}\n- contrats créés / mis à jour : {f.contrats_crees} / "
              f"{f.contrats_maj}\n- versements : {f.versements}\n- problèmes de lecture : "
              f"{len(dsn.problems)}"),
        description=f"DSN, SIRET {f.siret}") for f in fed]
    summary = {"declarations": len(dsn_view.declarations), "individus": len(dsn_view.individus),
               "problemes": len(dsn.problems), **{f.siret: f.statut for f in fed}}
    return HandlerResult(report_path=report_path, summary=summary,
                         artifacts=artifacts + controls, alerts=alerts)


def recontrol(settings: Settings, conn: Connection, sirets: list[str], since: str) -> int:
    """A CRM or an AR just came for these SIRETs: the controls of their DSNs of `since`
    (AAAA-MM) and later are done again, so that a DSN's reports say what the registry now
    holds whatever the order the files came in. Returns how many files were controlled."""
    sources = conn.execute(
        select(dsn_declaration.c.source).where(dsn_declaration.c.siret.in_(sirets))
        .where(dsn_declaration.c.mois >= date.fromisoformat(f"{since}-01"))
        .distinct()).scalars().all()
    done = 0
    for source in sorted(sources):
        path = settings.root / source
        if not path.exists():
            continue
        dsn_view = view(dsn_format.read_path(path))
        when = period(dsn_view)
        control(conn, dsn_view, settings.outbox / "dsn" / when, path.stem, when, source)
        done += 1
    return done
