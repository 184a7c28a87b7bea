"""`gedflow crm taux`, `gedflow crm recuperer`."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import Annotated

import typer

from flows.cli.base import outcome_rows, print_outcomes, process_inbox
from flows.cli.common import (
    RootOption,
    console,
    create_folders,
    parse_day,
    registry_or_exit,
    settings_or_exit,
)
from gedflow.settings import PARIS

app = typer.Typer(help="CRM nominatif (taux PAS).")


@app.command("taux")
def crm_taux(
    siret: Annotated[str, typer.Option("--siret", help="SIRET de l'établissement.")],
    on: Annotated[
        str | None,
        typer.Option("--date", help="Date (JJ/MM/AAAA ou AAAA-MM-JJ), défaut : aujourd'hui."),
    ] = None,
    root: RootOption = None,
) -> None:
    """Le taux PAS que chaque salarié doit avoir à une date (avec alertes d'expiration)."""
    from rich.table import Table

    from gedflow.crm.taux import ALERTS, COLUMNS, EXPIRY_ALERTS, rates_on

    settings = settings_or_exit(root)
    when = parse_day(on) if on else datetime.now(PARIS).date()
    with registry_or_exit(settings) as conn:
        rates = rates_on(conn, siret, when)
    if not rates:
        console.print(f"[red]✗ aucun salarié pour le SIRET {siret}[/red]")
        raise typer.Exit(2)
    table = Table(title=f"Taux PAS au {when:%d/%m/%Y} — SIRET {siret}")
    labels = ("matricule", "nom", "prénoms", "taux (.006)", "type (.007)", "identifiant (.008)",
              "valide jusqu'au", "alerte")
    for label in labels:
        table.add_column(label, overflow="fold")
    for row in rates:
        alert = row["alerte"]
        style = "red" if alert in (ALERTS["expired"], ALERTS["none"]) else "yellow"
        table.add_row(*[row[c] for c in COLUMNS[1:-1]], f"[{style}]{alert}[/]" if alert else "")
    console.print(table)
    warned = sum(row["alerte"] in EXPIRY_ALERTS for row in rates)
    if warned:
        console.print(f"[yellow]⚠ {warned} taux expiré(s) ou expirant sous 15 jours[/yellow]")


@app.command("recuperer")
def crm_recuperer(root: RootOption = None) -> None:
    """Récupère les CRM nominatifs (API DSN) de chaque utilisateur, puis les traite."""
    from flows.prefect_env import LazyApi, configure

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
        outcomes, waiting = process_inbox(settings)
        print_outcomes(outcome_rows(settings, outcomes), waiting)
    if not state.is_completed():
        raise typer.Exit(1)
