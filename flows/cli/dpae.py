"""`gedflow dpae prepare|build|phase|send|suivi`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import (
    RootOption,
    as_flow,
    console,
    fail,
    parse_day,
    registry_or_exit,
    settings_or_exit,
)
from gedflow.settings import PARIS

if TYPE_CHECKING:
    pass

app = typer.Typer(help="DPAE : test de préparation et construction de dpae.txt.")


DossierOption = Annotated[str, typer.Option("--dossier", help="Code du dossier.")]
SiretOption = Annotated[str | None, typer.Option("--siret", help="Un seul établissement.")]
DuOption = Annotated[str | None, typer.Option("--du", help="Embauches à partir du JJ/MM/AAAA.")]
AuOption = Annotated[str | None, typer.Option("--au", help="Embauches jusqu'au JJ/MM/AAAA.")]
MaintenantOption = Annotated[str | None, typer.Option(
    "--maintenant", help="Heure de référence de la règle des 8 jours (AAAA-MM-JJTHH:MM).")]
FormatOption = Annotated[str | None, typer.Option("--format", help="flat | xml | both")]


def _dpae(mode: str | None, dossier_code: str, siret: str | None, du: str | None,
          au: str | None, maintenant: str | None, fmt: str | None, root: Path | None,
          flow: bool) -> None:
    from rich.table import Table

    from gedflow.dpae.handler import prepare_dossier
    from gedflow.dpae.report import write_reports
    from gedflow.errors import GedflowError

    settings = settings_or_exit(root)
    start, end = (parse_day(du) if du else None), (parse_day(au) if au else None)
    try:
        if flow:  # it changes the registry's statuts: the UI shows it
            from flows.commands import dpae_construction

            result = as_flow(settings, lambda: dpae_construction(
                str(settings.root), dossier_code, mode, fmt, siret,
                start.isoformat() if start else None, end.isoformat() if end else None,
                maintenant))
        else:
            result = prepare_dossier(settings, dossier_code, mode, fmt, siret, start, end,
                                     maintenant)
    except GedflowError as exc:
        raise fail(exc) from exc
    if result is None:
        console.print(f"aucun contrat à déclarer dans le dossier {dossier_code}")
        return
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


@app.command("prepare")
def dpae_prepare(dossier_code: DossierOption, siret: SiretOption = None, du: DuOption = None,
                 au: AuOption = None, maintenant: MaintenantOption = None,
                 fmt: FormatOption = None, root: RootOption = None) -> None:
    """Test de préparation des contrats à déclarer (mode test : rien n'est envoyé)."""
    _dpae("test", dossier_code, siret, du, au, maintenant, fmt, root, flow=False)


@app.command("build")
def dpae_build(
    dossier_code: DossierOption, siret: SiretOption = None, du: DuOption = None,
    au: AuOption = None, maintenant: MaintenantOption = None, fmt: FormatOption = None,
    mode: Annotated[str | None, typer.Option("--mode", help="test | reel")] = None,
    root: RootOption = None,
) -> None:
    """Construit dpae.txt (mode réel : seulement sans erreur ; contrats prêts à envoyer)."""
    _dpae(mode, dossier_code, siret, du, au, maintenant, fmt, root, flow=True)


@app.command("phase")
def dpae_phase(dossier_code: DossierOption, root: RootOption = None) -> None:
    """Où en est le dossier dans les phases de test (étapes 4, 5, 6) et que faire ensuite."""
    from gedflow.dpae.phases import phase_of
    from gedflow.errors import GedflowError

    settings = settings_or_exit(root)
    try:
        with registry_or_exit(settings) as conn:
            current = phase_of(conn, dossier_code)
    except GedflowError as exc:
        raise fail(exc) from exc
    console.print(f"dossier {dossier_code} : [bold]{current.phase}[/bold]")
    console.print(f"  clé de test : {current.cle_test or '(aucune)'}")
    console.print(f"  clé définitive : {current.cle_definitive or '(aucune)'}")
    console.print(f"  à faire : {current.todo}")


@app.command("send")
def dpae_send(
    mode: Annotated[str | None, typer.Option("--mode", help="test (.eml) | reel (SMTP)")] = None,
    canal: Annotated[str | None, typer.Option("--canal", help="email | api")] = None,
    root: RootOption = None,
) -> None:
    """Envoie les lots réels prêts (jamais deux fois) : e-mail (.eml en mode test) ou API."""
    from flows.commands import dpae_envoi
    from gedflow.errors import GedflowError
    from gedflow.portal import offline

    settings = settings_or_exit(root)
    chosen = mode or settings.dpae_mode
    try:
        kind, done = as_flow(settings, lambda: dpae_envoi(
            str(settings.root), chosen, canal or settings.dpae_canal))
    except GedflowError as exc:
        raise fail(exc) from exc
    if kind == "hors_ligne":
        for item in done:
            console.print(f"• lot {item.batch_id} : {item.detail}")
        console.print(f"[yellow]{offline.MESSAGE} : rien n'est envoyé[/]")
    elif kind == "api":
        _print_api(done, chosen)
    else:
        _print_sent(done)


def _print_sent(sent: list) -> None:
    if not sent:
        console.print("aucun lot à envoyer")
    for item in sent:
        mark = {"envoye": "[green]✓[/]", "eml": "•", "incertain": "[red]✗[/]"}[item.outcome]
        console.print(f"{mark} lot {item.batch_id} : {item.detail}")
    if any(item.outcome == "incertain" for item in sent):
        raise typer.Exit(1)


@app.command("suivi")
def dpae_suivi(
    on: Annotated[str | None, typer.Option("--date", help="Date du suivi (JJ/MM/AAAA).")] = None,
    root: RootOption = None,
) -> None:
    """Les déclarations envoyées sans AR après 5 jours ouvrés."""
    from gedflow.dpae.suivi import overdue

    settings = settings_or_exit(root)
    today = parse_day(on) if on else datetime.now(PARIS).date()
    with registry_or_exit(settings) as conn:
        late = overdue(conn, today)
    if not late:
        console.print("✓ aucune déclaration en attente d'AR depuis plus de 5 jours ouvrés")
        return
    for item in late:
        console.print(f"[yellow]⚠ lot {item['lot']} contrat {item['contrat']} envoyé le "
                      f"{item['envoye_le']} : pas d'AR après {item['jours_ouvres']} jours "
                      "ouvrés[/]")
    raise typer.Exit(1)


def _print_api(reports: list, mode: str) -> None:
    if mode != "reel":
        console.print("mode test : rien n'est envoyé à l'API (passez --mode reel)")
        return
    if not reports:
        console.print("aucun lot à envoyer")
    for report in reports:
        for row in report.rows.itertuples(index=False):
            mark = "[green]✓[/]" if row.statut == "enregistree" else "[red]✗[/]"
            console.print(f"{mark} {row.nom} {row.prenoms} {row.date_embauche} : {row.statut} "
                          f"{row.message}")
    if any((r.rows["statut"] != "enregistree").any() for r in reports):
        raise typer.Exit(1)
