"""What `gedflow registry show` shows: the dossiers with their counts, and a dossier's
salariés with their latest rate and the last rate a DSN applied (NIR as stored: the caller
masks it)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from gedflow.db.tables import dossier, employeur, salarie, taux, versement_pas
from gedflow.errors import GedflowError


def dossiers(conn: Connection) -> list[tuple]:
    """(code, phase, employeurs, salariés) per dossier, by code."""
    return [tuple(row) for row in conn.execute(
        select(dossier.c.code, dossier.c.phase, func.count(func.distinct(employeur.c.id)),
               func.count(salarie.c.id))
        .select_from(dossier)
        .outerjoin(employeur, employeur.c.dossier_id == dossier.c.id)
        .outerjoin(salarie, salarie.c.employeur_id == employeur.c.id)
        .group_by(dossier.c.code, dossier.c.phase)
        .order_by(dossier.c.code)).all()]


def dossier_rows(conn: Connection, code: str) -> list:
    """The dossier's salariés (siret, raison_sociale, matricule, nom, prenoms, nir, taux_pas,
    type_taux, applique, type_dsn, date_versement), by SIRET and matricule; raises
    `GedflowError` for an unknown dossier."""
    dossier_id = conn.execute(select(dossier.c.id).where(dossier.c.code == code)).scalar()
    if dossier_id is None:
        raise GedflowError(f"dossier inconnu : {code}")
    latest = select(taux.c.salarie_id, func.max(taux.c.id).label("tid")).group_by(
        taux.c.salarie_id).subquery()
    applied = select(versement_pas.c.salarie_id, func.max(versement_pas.c.id).label("vid")
                     ).group_by(versement_pas.c.salarie_id).subquery()
    return conn.execute(
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
        .order_by(employeur.c.siret, salarie.c.matricule)).all()
