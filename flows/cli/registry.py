"""`gedflow registry show`: the dossiers, their employers and salariés (NIR masked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import RootOption, console, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy import Connection

app = typer.Typer(help="Le registre des dossiers, employeurs et salariés.")


@app.command("show")
def registry_show(
    dossier_code: Annotated[str | None, typer.Option("--dossier", help="Un dossier.")] = None,
    root: RootOption = None,
) -> None:
    """Affiche les dossiers, leurs employeurs et leurs salariés (NIR masqués)."""
    from gedflow.db.engine import migrate

    settings = settings_or_exit(root)
    engine = migrate(settings.registry_url)
    with engine.connect() as conn:
        if dossier_code is None:
            _show_dossiers(conn)
        else:
            _show_dossier(conn, dossier_code)


def _show_dossiers(conn: Connection) -> None:
    from rich.table import Table
    from sqlalchemy import func, select

    from gedflow.db.tables import dossier, employeur, salarie

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
    import pandas as pd
    from rich.table import Table
    from sqlalchemy import func, select

    from gedflow.checks import mask_nir
    from gedflow.db.tables import dossier, employeur, salarie, taux, versement_pas

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
