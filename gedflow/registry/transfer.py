"""Transfer (copy) of employeurs / salariés from one dossier to another — the seed's
"Transfert de données" — with their rate history and contrats, in one transaction.

Conflicts (same SIRET, or same SIRET + matricule, already in the destination) are reported and
left untouched unless `overwrite`. `move` removes what was copied from the source; `dry_run`
does all the work inside the transaction and rolls it back, so it shows exactly what would happen.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update

from gedflow.db.tables import contrat, dossier, employeur, salarie, taux, transfer_audit
from gedflow.errors import TransferError

log = logging.getLogger(__name__)

EMPLOYEUR_FIELDS = [c.name for c in employeur.columns if c.name not in ("id", "dossier_id")]
SALARIE_FIELDS = [c.name for c in salarie.columns if c.name not in ("id", "employeur_id")]
TAUX_FIELDS = [c.name for c in taux.columns if c.name not in ("id", "salarie_id")]
CONTRAT_FIELDS = [c.name for c in contrat.columns if c.name not in ("id", "salarie_id")]


@dataclass(frozen=True)
class TransferRequest:
    source: str
    destination: str
    employeurs: tuple[str, ...] = ()
    salaries: tuple[tuple[str, str], ...] = ()  # (siret, matricule)
    all: bool = False
    create: bool = False
    move: bool = False
    dry_run: bool = False
    overwrite: bool = False
    user: str = "administrateur"


@dataclass
class TransferSummary:
    source: str
    destination: str
    destination_created: bool = False
    employeurs: list[str] = field(default_factory=list)
    salaries: list[str] = field(default_factory=list)  # "siret:matricule"
    conflicts: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    removed_from_source: list[str] = field(default_factory=list)
    dry_run: bool = False


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def _dossier_id(conn: Connection, code: str) -> int | None:
    return conn.execute(select(dossier.c.id).where(dossier.c.code == code)).scalar()


def _employeurs(conn: Connection, dossier_id: int) -> dict[str, dict]:
    rows = conn.execute(select(employeur).where(employeur.c.dossier_id == dossier_id)).mappings()
    return {r["siret"]: dict(r) for r in rows}


def _salaries(conn: Connection, employeur_id: int) -> dict[str, dict]:
    rows = conn.execute(select(salarie).where(salarie.c.employeur_id == employeur_id)).mappings()
    return {r["matricule"]: dict(r) for r in rows}


def _selection(conn: Connection, req: TransferRequest, src_id: int) -> dict[str, set[str] | None]:
    """SIRET → matricules to copy (None = the employer with all its salariés)."""
    src = _employeurs(conn, src_id)
    chosen: dict[str, set[str] | None] = {}
    sirets = list(src) if req.all else list(req.employeurs)
    for siret in sirets:
        if siret not in src:
            raise TransferError(f"employeur {siret} absent du dossier {req.source}")
        chosen[siret] = None
    for siret, matricule in req.salaries:
        if siret not in src or matricule not in _salaries(conn, src[siret]["id"]):
            raise TransferError(f"salarié {siret}:{matricule} absent du dossier {req.source}")
        if chosen.get(siret, set()) is not None:
            chosen.setdefault(siret, set()).add(matricule)  # type: ignore[union-attr]
    if not chosen:
        raise TransferError("rien à transférer : indiquez --employeur, --salarie ou --all")
    return chosen


def _copy_children(conn: Connection, table, fields: list[str], src_sal: int, dst_sal: int) -> None:
    rows = conn.execute(select(table).where(table.c.salarie_id == src_sal)).mappings().all()
    if rows:
        conn.execute(insert(table), [{**{f: r[f] for f in fields}, "salarie_id": dst_sal}
                                     for r in rows])


def _copy_salarie(conn: Connection, person: dict, dst_emp: int, existing: dict | None) -> None:
    values = {f: person[f] for f in SALARIE_FIELDS}
    if existing is None:
        dst_sal = conn.execute(
            insert(salarie).values(**values, employeur_id=dst_emp)
        ).inserted_primary_key[0]
    else:
        dst_sal = existing["id"]
        conn.execute(update(salarie).where(salarie.c.id == dst_sal).values(**values))
        conn.execute(delete(taux).where(taux.c.salarie_id == dst_sal))
        conn.execute(delete(contrat).where(contrat.c.salarie_id == dst_sal))
    _copy_children(conn, taux, TAUX_FIELDS, person["id"], dst_sal)
    _copy_children(conn, contrat, CONTRAT_FIELDS, person["id"], dst_sal)


def _apply(conn: Connection, req: TransferRequest, summary: TransferSummary) -> None:
    src_id = _dossier_id(conn, req.source)
    if src_id is None:
        raise TransferError(f"dossier source inconnu : {req.source}")
    if req.source == req.destination:
        raise TransferError("le dossier source et le dossier destination sont identiques")
    dst_id = _dossier_id(conn, req.destination)
    if dst_id is None:
        if not req.create:
            raise TransferError(
                f"dossier destination inconnu : {req.destination} (ajoutez --create pour le créer)"
            )
        dst_id = conn.execute(
            insert(dossier).values(code=req.destination, created_at=datetime.now(UTC))
        ).inserted_primary_key[0]
        summary.destination_created = True
    chosen = _selection(conn, req, src_id)
    src, dst = _employeurs(conn, src_id), _employeurs(conn, dst_id)
    for siret, matricules in chosen.items():
        whole = matricules is None
        if siret in dst and whole and not req.overwrite:
            summary.conflicts.append(f"employeur {siret} déjà présent dans {req.destination}")
            continue
        values = {f: src[siret][f] for f in EMPLOYEUR_FIELDS}
        if siret in dst:
            dst_emp = dst[siret]["id"]
            if whole:
                conn.execute(update(employeur).where(employeur.c.id == dst_emp).values(**values))
                summary.overwritten.append(f"employeur {siret}")
        else:
            dst_emp = conn.execute(
                insert(employeur).values(**values, dossier_id=dst_id)
            ).inserted_primary_key[0]
        if whole:
            summary.employeurs.append(siret)
        people = _salaries(conn, src[siret]["id"])
        targets = _salaries(conn, dst_emp)
        for matricule in sorted(people if whole else matricules):  # type: ignore[arg-type]
            key = f"{siret}:{matricule}"
            if matricule in targets and not req.overwrite:
                summary.conflicts.append(f"salarié {key} déjà présent dans {req.destination}")
                continue
            if matricule in targets:
                summary.overwritten.append(f"salarié {key}")
            _copy_salarie(conn, people[matricule], dst_emp, targets.get(matricule))
            summary.salaries.append(key)
            if req.move:
                conn.execute(delete(salarie).where(salarie.c.id == people[matricule]["id"]))
                summary.removed_from_source.append(f"salarié {key}")
        if req.move and whole and not _salaries(conn, src[siret]["id"]):
            conn.execute(delete(employeur).where(employeur.c.id == src[siret]["id"]))
            summary.removed_from_source.append(f"employeur {siret}")


def transfer(engine: Engine, req: TransferRequest) -> TransferSummary:
    """Run a transfer as one transaction (all or nothing) and record it in the audit table."""
    summary = TransferSummary(source=req.source, destination=req.destination, dry_run=req.dry_run)
    try:
        with engine.begin() as conn:
            _apply(conn, req, summary)
            if req.dry_run:
                raise _DryRun
            conn.execute(
                insert(transfer_audit).values(
                    at=datetime.now(UTC),
                    user=req.user,
                    source=req.source,
                    destination=req.destination,
                    options=json.dumps(
                        {k: getattr(req, k) for k in ("all", "create", "move", "overwrite")}
                    ),
                    summary=json.dumps(asdict(summary), ensure_ascii=False),
                )
            )
    except _DryRun:
        pass
    log.info(
        "transfer %s → %s: %d employeurs, %d salariés, %d conflicts (dry run: %s)",
        req.source, req.destination, len(summary.employeurs), len(summary.salaries),
        len(summary.conflicts), req.dry_run,
    )
    return summary
