"""`gedflow credentials set|list|remove|test`, `gedflow doctor`, `gedflow offline on|off|status`.

No Prefect here: the connection test must work while the Prefect server is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import RootOption, console, fail, settings_or_exit
from gedflow.errors import GedflowError
from gedflow.portal import offline

if TYPE_CHECKING:
    from gedflow.portal.doctor import Check
    from gedflow.settings import Settings

credentials_app = typer.Typer(help="Identifiants Net-Entreprises (un jeu par utilisateur).")
offline_app = typer.Typer(help="Mode assistance : hors ligne, rien ne sort de la machine.")

UserOption = Annotated[str | None, typer.Option(
    "--user", help="Utilisateur (défaut : [connexion] utilisateur, « administrateur »).")]


def _user(settings: Settings, user: str | None) -> str:
    return user or settings.connexion_utilisateur


def _print_checks(checks: list[Check]) -> None:
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        console.print(f"{mark} {check.nom} ({check.url}) : {check.detail}", highlight=False)


@credentials_app.command("set")
def credentials_set(
    user: UserOption = None,
    siret: Annotated[str | None, typer.Option(help="SIRET du déclarant.")] = None,
    nom: Annotated[str | None, typer.Option(help="Nom, exactement comme sur le portail.")] = None,
    prenom: Annotated[str | None, typer.Option(help="Prénom, exactement comme sur le portail.")]
    = None,
    service: Annotated[str | None, typer.Option(
        help="25 déclarant (défaut), 26 agricole, 98 concentrateur.")] = None,
    dossier: Annotated[list[str] | None, typer.Option(
        "--dossier", help="Dossier servi par ces identifiants (répétable ; défaut : tous).")]
    = None,
    declarant: Annotated[list[str] | None, typer.Option(
        "--declarant", help="Concentrateur (98) : déclarant servi, « SIRET;NOM;PRENOM » "
                            "(répétable).")] = None,
    root: RootOption = None,
) -> None:
    """Enregistre (chiffrés) les identifiants Net-Entreprises d'un utilisateur."""
    from gedflow.portal.credentials import CASE_NOTE, SERVICES, CredentialStore, Identifiants

    settings = settings_or_exit(root)
    name = _user(settings, user)
    who = Identifiants(
        siret=siret if siret is not None else typer.prompt("SIRET"),
        nom=nom if nom is not None else typer.prompt("Nom"),
        prenom=prenom if prenom is not None else typer.prompt("Prénom"),
        motdepasse=typer.prompt("Mot de passe", hide_input=True),
        service=service or typer.prompt(
            "Code service (25 déclarant, 26 agricole, 98 concentrateur)", default="25"),
        dossiers=tuple(dossier or ()), declarants=tuple(declarant or ()))
    try:
        CredentialStore(settings).save(name, who)
    except GedflowError as exc:
        raise fail(exc) from exc
    console.print(f"✓ identifiants de {name} enregistrés, chiffrés "
                  f"(service {who.service} : {SERVICES[who.service]})")
    console.print(f"• {CASE_NOTE} : nom « {who.nom} », prénom « {who.prenom} »", highlight=False)
    console.print("• vérifiez-les : gedflow credentials test" + (f" --user {name}" if user else ""))


@credentials_app.command("list")
def credentials_list(root: RootOption = None) -> None:
    """Les utilisateurs et leurs identifiants (jamais le mot de passe)."""
    from rich.table import Table

    from gedflow.portal.credentials import CredentialStore

    settings = settings_or_exit(root)
    store = CredentialStore(settings)
    table = Table(title="Identifiants Net-Entreprises")
    for col in ("utilisateur", "SIRET", "nom", "prénom", "service", "dossiers", "enregistré le"):
        table.add_column(col)
    try:
        for name in store.users():
            who = store.load(name)
            table.add_row(name, who.siret, who.nom, who.prenom, who.service,
                          ", ".join(who.dossiers) or "tous", who.enregistre_le)
    except GedflowError as exc:
        raise fail(exc) from exc
    console.print(table if table.rows else "aucun identifiant : gedflow credentials set")


@credentials_app.command("remove")
def credentials_remove(user: UserOption = None, root: RootOption = None) -> None:
    """Supprime les identifiants d'un utilisateur."""
    from gedflow.portal.credentials import CredentialStore

    settings = settings_or_exit(root)
    name = _user(settings, user)
    if not CredentialStore(settings).remove(name):
        console.print(f"[yellow]aucun identifiant pour {name}[/]")
        raise typer.Exit(1)
    console.print(f"✓ identifiants de {name} supprimés")


@credentials_app.command("test")
def credentials_test(user: UserOption = None, root: RootOption = None) -> None:
    """S'authentifie auprès de l'API DSN et de l'API DPAE ; code 0 si les deux acceptent."""
    from gedflow.portal.doctor import test_credentials

    settings = settings_or_exit(root)
    checks = test_credentials(settings, _user(settings, user))
    _print_checks(checks)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def doctor(user: UserOption = None, root: RootOption = None) -> None:
    """Teste l'accès à chaque serveur (✓/✗ et la raison) ; code 0 seulement si tout passe."""
    from gedflow.portal.doctor import diagnose

    settings = settings_or_exit(root)
    result = diagnose(settings, user)
    for warning in result.warnings:
        console.print(f"[bold red]⚠ {warning}[/]")
    _print_checks(result.checks)
    if not result.ok:
        raise typer.Exit(1)
    console.print("[green]✓ tous les serveurs répondent, identifiants acceptés[/]")


@offline_app.command("on")
def offline_on(root: RootOption = None) -> None:
    """Passe en mode assistance : aucune récupération, aucun envoi."""
    state = offline.turn_on(settings_or_exit(root))
    console.print(f"✓ mode assistance actif depuis {state['depuis']} : rien ne sort de la "
                  "machine ; les envois restent prêts dans l'outbox")


@offline_app.command("off")
def offline_off(root: RootOption = None) -> None:
    """Reprend les échanges : les prochaines exécutions planifiées rattrapent le retard."""
    was_on = offline.turn_off(settings_or_exit(root))
    console.print("✓ mode assistance désactivé : les prochaines exécutions rattrapent le retard"
                  if was_on else "mode assistance déjà inactif")


@offline_app.command("status")
def offline_status(root: RootOption = None) -> None:
    """Dit si le mode assistance est actif (code 1 si oui)."""
    state = offline.status(settings_or_exit(root))
    if state is None:
        console.print("en ligne : échanges avec Net-Entreprises autorisés")
        return
    console.print(f"mode assistance actif depuis {state['depuis']} (par {state['par']}) : "
                  "rien ne sort de la machine")
    raise typer.Exit(1)
