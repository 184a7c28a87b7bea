"""The `gedflow` command line: init, run, transfer, registry show.

Prefect is imported only by commands that run flows, after `prefect_env.configure` has set its
environment (home under `.gedflow/`, local server or ephemeral mode).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Connection, func, select

from flows.cli_common import (
    RootOption,
    console,
    create_folders,
    fail,
    parse_day,
    settings_or_exit,
)
from flows.dsn_cli import dsn_app
from flows.portal_cli import credentials_app, doctor, offline_app
from flows.prefect_env import LazyApi, configure, migrate_prefect_home
from flows.service_cli import serve, server_app, status, watch
from gedflow.checks import mask_nir
from gedflow.crm.taux import rates_on
from gedflow.crypto import import_key, list_keys
from gedflow.dpae.handler import options as dpae_options
from gedflow.dpae.handler import reference_time
from gedflow.dpae.phases import phase_of
from gedflow.dpae.prepare import hires_from_registry, prepare
from gedflow.dpae.report import write_reports
from gedflow.dpae.send import hold_offline, send_batches
from gedflow.dpae.send_api import send_batches_api
from gedflow.dpae.suivi import overdue
from gedflow.errors import GedflowError
from gedflow.intake import Outcome, claim_ready
from gedflow.mail import read_mapibox, write_mail_section
from gedflow.portal import offline
from gedflow.registry.db import migrate
from gedflow.registry.tables import dossier, employeur, salarie, taux, versement_pas
from gedflow.registry.transfer import TransferRequest, transfer
from gedflow.settings import PARIS, Settings

app = typer.Typer(help="gedflow : la paperasse de la paie, automatisée.", no_args_is_help=True)
registry_app = typer.Typer(help="Le registre des dossiers, employeurs et salariés.")
app.add_typer(registry_app, name="registry")
crm_app = typer.Typer(help="CRM nominatif (taux PAS).")
app.add_typer(crm_app, name="crm")
dpae_app = typer.Typer(help="DPAE : test de préparation et construction de dpae.txt.")
app.add_typer(dpae_app, name="dpae")
keys_app = typer.Typer(help="Clés OpenPGP des destinataires (chiffrement des DPAE).")
app.add_typer(keys_app, name="keys")
mail_app = typer.Typer(help="Envoi des déclarations par e-mail.")
app.add_typer(mail_app, name="mail")
@app.command()
def init(root: RootOption = None) -> None:
    """Crée les dossiers GED, le registre et l'état de Prefect (idempotent)."""
    settings = settings_or_exit(root)
    create_folders(settings)
    migrate(settings.registry_url)
    console.print(f"✓ dossiers GED sous {settings.root}")
    console.print("✓ registre à jour" + ("" if settings.database_url else " (SQLite embarqué)"))
    if migrate_prefect_home(settings):
        console.print(f"✓ base Prefect créée sous {settings.prefect_home}")


def process_inbox(settings: Settings) -> tuple[list[Outcome], list[str]]:
    """Process every file in the inbox once, waiting for files still settling."""
    from flows.sweep import dispatch  # imports prefect: only after configure()

    engine = migrate(settings.registry_url)
    deadline = time.monotonic() + settings.max_wait_seconds
    outcomes: list[Outcome] = []
    with ExitStack() as stack, Progress(console=console, transient=True) as progress:
        api = LazyApi(stack, settings)
        while True:
            claims, settling = claim_ready(settings, engine)
            if claims:
                api.ensure()
                bar = progress.add_task("traitement", total=len(claims))
                outcomes += dispatch(settings, claims, partial(progress.advance, bar))
            if not settling or time.monotonic() > deadline:
                return outcomes, [f"{p.rel} (encore en cours d'écriture)" for p in settling]
            time.sleep(min(1.0, settings.settle_seconds))


def _print_outcomes(settings: Settings, outcomes: list[Outcome], waiting: list[str]) -> None:
    table = Table(title="gedflow run")
    for col in ("fichier", "type", "résultat", "rapport / raison"):
        table.add_column(col, overflow="fold")
    style = {"archived": "green", "quarantined": "red", "duplicate": "yellow"}
    for o in outcomes:
        detail = (
            o.report_path.relative_to(settings.root).as_posix()
            if o.report_path
            else (o.reason.splitlines()[0] if o.reason else o.final_path.name)
        )
        table.add_row(o.rel, o.kind, f"[{style[o.outcome]}]{o.outcome}[/]", detail)
    console.print(table)
    for line in waiting:
        console.print(f"[yellow]• laissé dans l'inbox : {line}[/yellow]")
    if not outcomes and not waiting:
        console.print("inbox vide : rien à traiter")


@app.command()
def run(
    root: RootOption = None,
    disponibilite: Annotated[
        str | None,
        typer.Option("--disponibilite", help="Date de mise à disposition des CRM (JJ/MM/AAAA) ; "
                     "défaut : date du fichier."),
    ] = None,
) -> None:
    """Traite une fois chaque fichier de l'inbox ; code 1 si un fichier part en quarantaine."""
    if disponibilite:  # read by the CRM flow's settings, in this process and its tasks
        os.environ["GEDFLOW_CRM_DISPONIBILITE"] = parse_day(disponibilite).isoformat()
    settings = settings_or_exit(root)
    create_folders(settings)
    configure(settings)
    outcomes, waiting = process_inbox(settings)
    _print_outcomes(settings, outcomes, waiting)
    if any(o.outcome != "archived" for o in outcomes):
        raise typer.Exit(1)


def _parse_salarie(value: str) -> tuple[str, str]:
    siret, sep, matricule = value.partition(":")
    if not sep or not siret or not matricule:
        raise typer.BadParameter(f"{value!r} : SIRET:MATRICULE attendu")
    return siret, matricule


@app.command(name="transfer")
def transfer_cmd(
    source: Annotated[str, typer.Option("--from", help="Dossier source.")],
    destination: Annotated[str, typer.Option("--to", help="Dossier destination.")],
    employeurs: Annotated[list[str] | None, typer.Option("--employeur", help="SIRET")] = None,
    salaries: Annotated[
        list[str] | None, typer.Option("--salarie", help="SIRET:MATRICULE")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Tous les employeurs du dossier.")] = False,
    create: Annotated[bool, typer.Option("--create", help="Créer la destination.")] = False,
    move: Annotated[bool, typer.Option("--move", help="Retirer de la source après copie.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Montrer sans rien changer.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Écraser les conflits.")] = False,
    root: RootOption = None,
) -> None:
    """Copie des employeurs / salariés d'un dossier à un autre (une seule transaction)."""
    settings = settings_or_exit(root)
    request = TransferRequest(
        source=source,
        destination=destination,
        employeurs=tuple(employeurs or ()),
        salaries=tuple(_parse_salarie(s) for s in salaries or ()),
        all=all_,
        create=create,
        move=move,
        dry_run=dry_run,
        overwrite=overwrite,
        user=settings.user,
    )
    try:
        summary = transfer(migrate(settings.registry_url), request)
    except GedflowError as exc:
        raise fail(exc) from exc
    head = "[yellow]simulation (--dry-run) : rien n'a été modifié[/]\n" if dry_run else ""
    console.print(f"{head}transfert {source} → {destination}")
    if summary.destination_created:
        console.print(f"  dossier {destination} créé")
    console.print(f"  employeurs copiés : {len(summary.employeurs)} {' '.join(summary.employeurs)}")
    console.print(f"  salariés copiés : {len(summary.salaries)}")
    for line in summary.overwritten:
        console.print(f"  [yellow]écrasé : {line}[/]")
    for line in summary.removed_from_source:
        console.print(f"  retiré de {source} : {line}")
    for line in summary.conflicts:
        console.print(f"  [red]conflit, laissé tel quel : {line}[/] (--overwrite pour écraser)")


@registry_app.command("show")
def registry_show(
    dossier_code: Annotated[str | None, typer.Option("--dossier", help="Un dossier.")] = None,
    root: RootOption = None,
) -> None:
    """Affiche les dossiers, leurs employeurs et leurs salariés (NIR masqués)."""
    settings = settings_or_exit(root)
    engine = migrate(settings.registry_url)
    with engine.connect() as conn:
        if dossier_code is None:
            _show_dossiers(conn)
        else:
            _show_dossier(conn, dossier_code)


def _show_dossiers(conn: Connection) -> None:
    table = Table(title="Dossiers")
    for col in ("dossier", "phase", "employeurs", "salariés"):
        table.add_column(col)
    rows = conn.execute(
        select(
            dossier.c.code,
            dossier.c.phase,
            func.count(func.distinct(employeur.c.id)),
            func.count(salarie.c.id),
        )
        .select_from(dossier)
        .outerjoin(employeur, employeur.c.dossier_id == dossier.c.id)
        .outerjoin(salarie, salarie.c.employeur_id == employeur.c.id)
        .group_by(dossier.c.code, dossier.c.phase)
        .order_by(dossier.c.code)
    ).all()
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def _show_dossier(conn: Connection, code: str) -> None:
    dossier_id = conn.execute(select(dossier.c.id).where(dossier.c.code == code)).scalar()
    if dossier_id is None:
        console.print(f"[red]✗ dossier inconnu : {code}[/red]")
        raise typer.Exit(2)
    latest = select(taux.c.salarie_id, func.max(taux.c.id).label("tid")).group_by(
        taux.c.salarie_id
    ).subquery()
    applied = select(versement_pas.c.salarie_id, func.max(versement_pas.c.id).label("vid")
                     ).group_by(versement_pas.c.salarie_id).subquery()
    rows = conn.execute(
        select(employeur.c.siret, employeur.c.raison_sociale, salarie.c.matricule,
               salarie.c.nom, salarie.c.prenoms, salarie.c.nir, taux.c.taux_pas, taux.c.type_taux,
               versement_pas.c.taux.label("applique"), versement_pas.c.type_taux.label("type_dsn"),
               versement_pas.c.date_versement)
        .select_from(employeur)
        .outerjoin(salarie, salarie.c.employeur_id == employeur.c.id)
        .outerjoin(latest, latest.c.salarie_id == salarie.c.id)
        .outerjoin(taux, taux.c.id == latest.c.tid)
        .outerjoin(applied, applied.c.salarie_id == salarie.c.id)
        .outerjoin(versement_pas, versement_pas.c.id == applied.c.vid)
        .where(employeur.c.dossier_id == dossier_id)
        .order_by(employeur.c.siret, salarie.c.matricule)
    ).all()
    table = Table(title=f"Dossier {code}")
    for col in ("siret", "raison sociale", "matricule", "nom", "prénoms", "nir", "taux", "type",
                "dernier taux appliqué (DSN)"):
        table.add_column(col)
    masked = mask_nir(pd.Series([r.nir or "" for r in rows], dtype=object))
    for r, nir in zip(rows, masked, strict=True):
        applied_text = (f"{r.applique} ({r.type_dsn}) le {r.date_versement:%d/%m/%Y}"
                        if r.applique is not None and r.date_versement else r.applique or "")
        table.add_row(r.siret, r.raison_sociale, r.matricule or "", r.nom or "", r.prenoms or "",
                      nir, r.taux_pas or "", r.type_taux or "", applied_text)
    console.print(table)


@crm_app.command("taux")
def crm_taux(
    siret: Annotated[str, typer.Option("--siret", help="SIRET de l'établissement.")],
    on: Annotated[
        str | None,
        typer.Option("--date", help="Date (JJ/MM/AAAA ou AAAA-MM-JJ), défaut : aujourd'hui."),
    ] = None,
    root: RootOption = None,
) -> None:
    """Le taux PAS que chaque salarié doit avoir à une date (avec alertes d'expiration)."""
    settings = settings_or_exit(root)
    when = parse_day(on) if on else datetime.now(PARIS).date()
    with migrate(settings.registry_url).connect() as conn:
        rates = rates_on(conn, siret, when, settings.cache)
    if rates.empty:
        console.print(f"[red]✗ aucun salarié pour le SIRET {siret}[/red]")
        raise typer.Exit(2)
    table = Table(title=f"Taux PAS au {when:%d/%m/%Y} — SIRET {siret}")
    labels = ("matricule", "nom", "prénoms", "taux (.006)", "type (.007)", "identifiant (.008)",
              "valide jusqu'au", "alerte")
    for label in labels:
        table.add_column(label, overflow="fold")
    for row in rates.itertuples(index=False):
        style = "red" if "expiré" in row.alerte or "aucun" in row.alerte else "yellow"
        alert = f"[{style}]{row.alerte}[/]" if row.alerte else ""
        table.add_row(*[str(v) for v in row[:-1]], alert)
    console.print(table)
    warned = int((rates["alerte"].str.contains("expir")).sum())
    if warned:
        console.print(f"[yellow]⚠ {warned} taux expiré(s) ou expirant sous 15 jours[/yellow]")


@crm_app.command("recuperer")
def crm_recuperer(root: RootOption = None) -> None:
    """Récupère les CRM nominatifs (API DSN) de chaque utilisateur, puis les traite."""
    settings = settings_or_exit(root)
    create_folders(settings)
    configure(settings)
    with ExitStack() as stack:
        LazyApi(stack, settings).ensure()
        from flows.connexion import recuperer_crm

        state = recuperer_crm(str(settings.root), return_state=True)
    console.print(("[green]✓[/] " if state.is_completed() else "[red]✗[/] ")
                  + f"{state.name} : {state.message}", highlight=False)
    if state.is_completed() and state.name != "Ignoré":
        _print_outcomes(settings, *process_inbox(settings))
    if not state.is_completed():
        raise typer.Exit(1)


DossierOption = Annotated[str, typer.Option("--dossier", help="Code du dossier.")]
SiretOption = Annotated[str | None, typer.Option("--siret", help="Un seul établissement.")]
DuOption = Annotated[str | None, typer.Option("--du", help="Embauches à partir du JJ/MM/AAAA.")]
AuOption = Annotated[str | None, typer.Option("--au", help="Embauches jusqu'au JJ/MM/AAAA.")]
MaintenantOption = Annotated[str | None, typer.Option(
    "--maintenant", help="Heure de référence de la règle des 8 jours (AAAA-MM-JJTHH:MM).")]
FormatOption = Annotated[str | None, typer.Option("--format", help="flat | xml | both")]


def _dpae(mode: str | None, dossier_code: str, siret: str | None, du: str | None,
          au: str | None, maintenant: str | None, fmt: str | None, root: Path | None) -> None:
    settings = settings_or_exit(root)
    engine = migrate(settings.registry_url)
    try:
        with engine.connect() as conn:
            hires = hires_from_registry(conn, dossier_code, siret, parse_day(du) if du else None,
                                        parse_day(au) if au else None)
        if hires.empty:
            console.print(f"aucun contrat à déclarer dans le dossier {dossier_code}")
            return
        result = prepare(engine, hires, now=reference_time(settings, maintenant),
                         outbox=settings.outbox, root=settings.root,
                         options=dpae_options(settings, mode, fmt), dossier_code=dossier_code)
    except GedflowError as exc:
        raise fail(exc) from exc
    csv_path, html_path = write_reports(result, f"Test de préparation DPAE — {dossier_code}")
    table = Table(title=f"Test de préparation — {len(result.hires)} embauche(s)")
    for column in ("siret", "matricule", "nom", "champ", "code", "gravité", "message"):
        table.add_column(column, overflow="fold")
    for row in result.issues.itertuples(index=False):
        style = "red" if row.gravite == "erreur" else "yellow"
        table.add_row(row.siret, row.matricule, row.nom, row.champ, row.code,
                      f"[{style}]{row.gravite}[/]", row.message)
    console.print(table)
    console.print(result.note)
    for path in (csv_path, html_path, *result.files.values()):
        console.print(f"  {path.relative_to(settings.root)}")
    if result.errors:
        raise typer.Exit(1)


@dpae_app.command("prepare")
def dpae_prepare(dossier_code: DossierOption, siret: SiretOption = None, du: DuOption = None,
                 au: AuOption = None, maintenant: MaintenantOption = None,
                 fmt: FormatOption = None, root: RootOption = None) -> None:
    """Test de préparation des contrats à déclarer (mode test : rien n'est envoyé)."""
    _dpae("test", dossier_code, siret, du, au, maintenant, fmt, root)


@dpae_app.command("build")
def dpae_build(
    dossier_code: DossierOption, siret: SiretOption = None, du: DuOption = None,
    au: AuOption = None, maintenant: MaintenantOption = None, fmt: FormatOption = None,
    mode: Annotated[str | None, typer.Option("--mode", help="test | reel")] = None,
    root: RootOption = None,
) -> None:
    """Construit dpae.txt (mode réel : seulement sans erreur ; contrats prêts à envoyer)."""
    _dpae(mode, dossier_code, siret, du, au, maintenant, fmt, root)


@dpae_app.command("phase")
def dpae_phase(dossier_code: DossierOption, root: RootOption = None) -> None:
    """Où en est le dossier dans les phases de test (étapes 4, 5, 6) et que faire ensuite."""
    settings = settings_or_exit(root)
    try:
        with migrate(settings.registry_url).connect() as conn:
            current = phase_of(conn, dossier_code)
    except GedflowError as exc:
        raise fail(exc) from exc
    console.print(f"dossier {dossier_code} : [bold]{current.phase}[/bold]")
    console.print(f"  clé de test : {current.cle_test or '(aucune)'}")
    console.print(f"  clé définitive : {current.cle_definitive or '(aucune)'}")
    console.print(f"  à faire : {current.todo}")


@dpae_app.command("send")
def dpae_send(
    mode: Annotated[str | None, typer.Option("--mode", help="test (.eml) | reel (SMTP)")] = None,
    canal: Annotated[str | None, typer.Option("--canal", help="email | api")] = None,
    root: RootOption = None,
) -> None:
    """Envoie les lots réels prêts (jamais deux fois) : e-mail (.eml en mode test) ou API."""
    settings = settings_or_exit(root)
    if (mode or settings.dpae_mode) == "reel" and offline.status(settings) is not None:
        for item in hold_offline(migrate(settings.registry_url), settings):
            console.print(f"• lot {item.batch_id} : {item.detail}")
        console.print(f"[yellow]{offline.MESSAGE} : rien n'est envoyé[/]")
        return
    if (canal or settings.dpae_canal) == "api":
        _send_api(settings, mode or settings.dpae_mode)
        return
    try:
        sent = send_batches(migrate(settings.registry_url), settings, mode or settings.dpae_mode)
    except GedflowError as exc:
        raise fail(exc) from exc
    if not sent:
        console.print("aucun lot à envoyer")
    for item in sent:
        mark = {"envoye": "[green]✓[/]", "eml": "•", "incertain": "[red]✗[/]"}[item.outcome]
        console.print(f"{mark} lot {item.batch_id} : {item.detail}")
    if any(item.outcome == "incertain" for item in sent):
        raise typer.Exit(1)


@dpae_app.command("suivi")
def dpae_suivi(
    on: Annotated[str | None, typer.Option("--date", help="Date du suivi (JJ/MM/AAAA).")] = None,
    root: RootOption = None,
) -> None:
    """Les déclarations envoyées sans AR après 5 jours ouvrés."""
    settings = settings_or_exit(root)
    today = parse_day(on) if on else datetime.now(PARIS).date()
    late = overdue(migrate(settings.registry_url), today)
    if not late:
        console.print("✓ aucune déclaration en attente d'AR depuis plus de 5 jours ouvrés")
        return
    for item in late:
        console.print(f"[yellow]⚠ lot {item['lot']} contrat {item['contrat']} envoyé le "
                      f"{item['envoye_le']} : pas d'AR après {item['jours_ouvres']} jours "
                      "ouvrés[/]")
    raise typer.Exit(1)


def _send_api(settings: Settings, mode: str) -> None:
    if mode != "reel":
        console.print("mode test : rien n'est envoyé à l'API (passez --mode reel)")
        return
    try:
        reports = send_batches_api(migrate(settings.registry_url), settings)
    except GedflowError as exc:
        raise fail(exc) from exc
    if not reports:
        console.print("aucun lot à envoyer")
    for report in reports:
        for row in report.rows.itertuples(index=False):
            mark = "[green]✓[/]" if row.statut == "enregistree" else "[red]✗[/]"
            console.print(f"{mark} {row.nom} {row.prenoms} {row.date_embauche} : {row.statut} "
                          f"{row.message}")
    if any((r.rows["statut"] != "enregistree").any() for r in reports):
        raise typer.Exit(1)


@mail_app.command("import-mapibox")
def mail_import_mapibox(
    file: Annotated[Path, typer.Argument(help="Le fichier mapibox.cfg du poste.")],
    root: RootOption = None,
) -> None:
    """Reprend profil, destinataire, sujet et note d'un mapibox.cfg dans gedflow.toml [mail]."""
    settings = settings_or_exit(root)
    try:
        values = read_mapibox(file.read_bytes())
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    write_mail_section(settings.root / "gedflow.toml", values)
    for key, value in values.items():
        console.print(f"✓ {key} = {value}")


@keys_app.command("import")
def keys_import(
    file: Annotated[Path, typer.Argument(help="Clé publique OpenPGP (.asc ou binaire).")],
    dossier_code: Annotated[str | None, typer.Option("--dossier", help="Dossier qui l'utilise.")]
    = None,
    definitive: Annotated[bool, typer.Option("--definitive", help="Clé définitive.")] = False,
    root: RootOption = None,
) -> None:
    """Importe une clé publique dans le trousseau du projet (et l'attribue à un dossier)."""
    settings = settings_or_exit(root)
    try:
        fingerprints = import_key(settings.gnupg_home, file.read_bytes())
        if dossier_code:
            with migrate(settings.registry_url).begin() as conn:
                phase_of(conn, dossier_code)
                column = "cle_definitive" if definitive else "cle_test"
                conn.execute(dossier.update().where(dossier.c.code == dossier_code)
                             .values(**{column: fingerprints[0]}))
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    for fingerprint in fingerprints:
        console.print(f"✓ clé {fingerprint} importée")
    if dossier_code:
        kind = "définitive" if definitive else "de test"
        console.print(f"  clé {kind} du dossier {dossier_code}")


@keys_app.command("list")
def keys_list(root: RootOption = None) -> None:
    """Les clés du trousseau, leur validité et les dossiers qui les utilisent."""
    settings = settings_or_exit(root)
    with migrate(settings.registry_url).connect() as conn:
        uses = conn.execute(select(dossier.c.code, dossier.c.cle_test,
                                   dossier.c.cle_definitive)).all()
    table = Table(title="Clés OpenPGP")
    for column in ("empreinte", "identité", "expire", "état", "dossiers"):
        table.add_column(column, overflow="fold")
    now = datetime.now(PARIS)
    for key in list_keys(settings.gnupg_home):
        users = [f"{u.code} ({'test' if u.cle_test == key.fingerprint else 'définitive'})"
                 for u in uses if key.fingerprint in (u.cle_test, u.cle_definitive)]
        state = ("[red]révoquée[/]" if key.revoked else "[red]expirée[/]"
                 if key.expires and key.expires <= now else "[green]valide[/]")
        table.add_row(key.fingerprint, ", ".join(key.uids),
                      f"{key.expires:%d/%m/%Y}" if key.expires else "jamais", state,
                      ", ".join(users))
    console.print(table)


for command in (serve, watch, status, doctor):
    app.command()(command)
app.add_typer(server_app, name="server")
app.add_typer(credentials_app, name="credentials")
app.add_typer(dsn_app, name="dsn")
app.add_typer(offline_app, name="offline")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
