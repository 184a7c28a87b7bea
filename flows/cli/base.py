"""`gedflow init`, `gedflow run`, `gedflow transfer`."""

from __future__ import annotations

import time
from contextlib import ExitStack
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import (
    RootOption,
    as_flow,
    console,
    create_folders,
    fail,
    parse_day,
    settings_or_exit,
)

if TYPE_CHECKING:
    from gedflow.inbox import Outcome
    from gedflow.settings import Settings



def init(root: RootOption = None) -> None:
    """Crée les dossiers GED, le registre et l'état de Prefect (idempotent)."""
    from flows.prefect_env import migrate_prefect_home
    from gedflow.db.engine import migrate

    settings = settings_or_exit(root)
    create_folders(settings)
    migrate(settings.registry_url)
    console.print(f"✓ dossiers GED sous {settings.root}")
    console.print("✓ registre à jour" + ("" if settings.database_url else " (SQLite embarqué)"))
    if migrate_prefect_home(settings):
        console.print(f"✓ base Prefect créée sous {settings.prefect_home}")


def process_inbox(settings: Settings) -> tuple[list[Outcome], list[str]]:
    """Process every file in the inbox once, waiting for files still settling."""
    from rich.progress import Progress

    from flows.prefect_env import LazyApi
    from flows.sweep import dispatch  # imports prefect: only after configure()
    from gedflow.db.engine import migrate
    from gedflow.intake import claim_ready

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


def outcome_rows(settings: Settings, outcomes: list[Outcome]) -> list[list[str]]:
    """The run's table rows: file, kind, outcome, report (or why not)."""
    return [[o.rel, o.kind, o.outcome,
             o.report_path.relative_to(settings.root).as_posix() if o.report_path
             else (o.reason.splitlines()[0] if o.reason else o.final_path.name)]
            for o in outcomes]


def run_once(settings: Settings) -> dict:
    """The inbox processed once, as `gedflow run` prints it (JSON-ready: the background
    process sends it): table rows, files still settling, whether one did not archive."""
    outcomes, waiting = process_inbox(settings)
    return {"rows": outcome_rows(settings, outcomes), "waiting": waiting,
            "failed": any(o.outcome != "archived" for o in outcomes)}


def print_outcomes(rows: list[list[str]], waiting: list[str]) -> None:
    from rich.table import Table

    table = Table(title="gedflow run")
    for col in ("fichier", "type", "résultat", "rapport / raison"):
        table.add_column(col, overflow="fold")
    style = {"archived": "green", "quarantined": "red", "duplicate": "yellow"}
    for rel, kind, outcome, detail in rows:
        table.add_row(rel, kind, f"[{style[outcome]}]{outcome}[/]", detail)
    console.print(table)
    for line in waiting:
        console.print(f"[yellow]• laissé dans l'inbox : {line}[/yellow]")
    if not rows and not waiting:
        console.print("inbox vide : rien à traiter")


def run(
    root: RootOption = None,
    disponibilite: Annotated[
        str | None,
        typer.Option("--disponibilite", help="Date de mise à disposition des CRM (JJ/MM/AAAA) ; "
                     "défaut : date du fichier."),
    ] = None,
) -> None:
    """Traite une fois chaque fichier de l'inbox ; code 1 si un fichier part en quarantaine.
    Après le premier, les runs passent par le processus de fond (déjà prêt)."""
    from dataclasses import replace

    from flows import runner

    settings = settings_or_exit(root)
    day = parse_day(disponibilite).isoformat() if disponibilite else None
    if day:  # for this run only: the flows take it as a parameter
        settings = replace(settings, crm_disponibilite=day)
    create_folders(settings)
    done = runner.ask(settings, day) if settings.service_processus_de_fond else None
    if done is None:
        if settings.service_processus_de_fond:
            runner.start(settings)  # warm for the next runs
        from flows.prefect_env import configure

        configure(settings)
        done = run_once(settings)
    print_outcomes(done["rows"], done["waiting"])
    if done["failed"]:
        raise typer.Exit(1)


def _parse_salarie(value: str) -> tuple[str, str]:
    siret, sep, matricule = value.partition(":")
    if not sep or not siret or not matricule:
        raise typer.BadParameter(f"{value!r} : SIRET:MATRICULE attendu")
    return siret, matricule


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
    from gedflow.db.engine import migrate
    from gedflow.errors import GedflowError
    from gedflow.registry.transfer import TransferRequest, transfer

    settings = settings_or_exit(root)
    pairs = [_parse_salarie(s) for s in salaries or ()]
    try:
        if dry_run:  # changes nothing: no flow
            summary = transfer(migrate(settings.registry_url), TransferRequest(
                source=source, destination=destination, employeurs=tuple(employeurs or ()),
                salaries=tuple(pairs), all=all_, create=create, move=move, dry_run=True,
                overwrite=overwrite, user=settings.user))
        else:  # the UI shows who moved what
            from flows.commands import transfert

            summary = as_flow(settings, lambda: transfert(
                str(settings.root), source, destination, list(employeurs or ()), pairs, all_,
                create, move, overwrite))
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
