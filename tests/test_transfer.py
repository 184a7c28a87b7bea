"""Transfer of employeurs / salariés between dossiers, on SQLite and PostgreSQL."""

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, insert, select

from gedflow.db.tables import contrat, dossier, employeur, salarie, taux, transfer_audit
from gedflow.errors import TransferError
from gedflow.registry import transfer as transfer_module
from gedflow.registry.importer import import_csv
from gedflow.registry.transfer import TransferRequest, transfer

from .conftest import EXAMPLES

T, A = "81234567600017", "42198765200029"


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    for name in ("employeurs_exemple.csv", "salaries_exemple.csv"):
        import_csv(engine, (EXAMPLES / "registre" / name).read_bytes(), name)
    with engine.begin() as conn:
        sal_id = conn.execute(select(salarie.c.id).where(salarie.c.matricule == "A001")).scalar()
        conn.execute(insert(contrat).values(
            salarie_id=sal_id, date_embauche=date(2022, 9, 1), heure_embauche="08:30",
            nature="CDI", created_at=datetime.now(UTC)))
    return engine


def _people(engine: Engine, code: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(employeur.c.siret, salarie.c.matricule)
            .join(dossier, dossier.c.id == employeur.c.dossier_id)
            .join(salarie, salarie.c.employeur_id == employeur.c.id)
            .where(dossier.c.code == code).order_by(employeur.c.siret, salarie.c.matricule))
        return [f"{s}:{m}" for s, m in rows]


def _count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def req(**kw) -> TransferRequest:
    return TransferRequest(**{"source": "ASSO-TILLEULS", "destination": "NOUVEAU", **kw})


def test_copy_whole_employer_with_history_and_contracts(seeded: Engine) -> None:
    summary = transfer(seeded, req(employeurs=(T,), create=True, user="alice"))
    assert summary.destination_created and summary.employeurs == [T]
    assert _people(seeded, "NOUVEAU") == [f"{T}:A001", f"{T}:A002", f"{T}:A003"]
    assert len(_people(seeded, "ASSO-TILLEULS")) == 4  # a copy: the source keeps them
    assert _count(seeded, taux) == 4 + 3 and _count(seeded, contrat) == 2
    with seeded.connect() as conn:
        audit = conn.execute(select(transfer_audit)).one()
    assert (audit.user, audit.source, audit.destination) == ("alice", "ASSO-TILLEULS", "NOUVEAU")
    assert json.loads(audit.summary)["salaries"] == [f"{T}:A001", f"{T}:A002", f"{T}:A003"]


def test_missing_destination_without_create_is_an_error(seeded: Engine) -> None:
    with pytest.raises(TransferError, match="--create"):
        transfer(seeded, req(all=True))
    assert _count(seeded, dossier) == 2  # the two example dossiers, nothing created


def test_chosen_salaries_bring_their_employer(seeded: Engine) -> None:
    transfer(seeded, req(salaries=((A, "B001"), (T, "A002")), create=True))
    assert _people(seeded, "NOUVEAU") == [f"{A}:B001", f"{T}:A002"]


def test_move_removes_from_source(seeded: Engine) -> None:
    summary = transfer(seeded, req(employeurs=(A,), create=True, move=True))
    assert _people(seeded, "ASSO-TILLEULS") == [f"{T}:A001", f"{T}:A002", f"{T}:A003"]
    assert _people(seeded, "NOUVEAU") == [f"{A}:B001"]
    assert f"employeur {A}" in summary.removed_from_source
    with seeded.connect() as conn:
        assert conn.execute(select(func.count()).select_from(employeur)).scalar() == 3


def test_dry_run_changes_nothing_but_says_everything(seeded: Engine) -> None:
    before = [_count(seeded, t) for t in (dossier, employeur, salarie, taux, contrat)]
    summary = transfer(seeded, req(all=True, create=True, move=True, dry_run=True))
    assert summary.dry_run and summary.destination_created
    assert len(summary.salaries) == 4 and len(summary.removed_from_source) == 6
    assert [_count(seeded, t) for t in (dossier, employeur, salarie, taux, contrat)] == before
    assert _count(seeded, transfer_audit) == 0


def test_conflicts_are_reported_and_left_untouched(seeded: Engine) -> None:
    transfer(seeded, req(salaries=((T, "A001"),), create=True))
    summary = transfer(seeded, req(salaries=((T, "A001"), (T, "A002"))))
    assert summary.conflicts == [f"salarié {T}:A001 déjà présent dans NOUVEAU"]
    assert summary.salaries == [f"{T}:A002"]
    whole = transfer(seeded, req(employeurs=(T,)))
    assert whole.conflicts == [f"employeur {T} déjà présent dans NOUVEAU"] and not whole.salaries


def test_overwrite_replaces_conflicting_data(seeded: Engine) -> None:
    transfer(seeded, req(salaries=((T, "A001"),), create=True))
    with seeded.begin() as conn:
        conn.execute(salarie.update().where(salarie.c.matricule == "A001").values(nom="CHANGÉ"))
    summary = transfer(seeded, req(employeurs=(T,), overwrite=True))
    assert not summary.conflicts and f"salarié {T}:A001" in summary.overwritten
    with seeded.connect() as conn:
        names = conn.execute(select(salarie.c.nom).where(salarie.c.matricule == "A001")).scalars()
        assert sorted(names) == ["CHANGÉ", "CHANGÉ"]  # both sides took the source's data
        history = conn.execute(
            select(func.count()).select_from(taux).join(salarie)
            .where(salarie.c.matricule == "A001")
        ).scalar()
    assert history == 2  # one row per dossier: the copy replaced, not duplicated


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "INCONNU", "all": True}, "dossier source inconnu"),
        ({"employeurs": ("81234567600025",), "create": True}, "absent du dossier"),
        ({"salaries": ((T, "Z999"),), "create": True}, "absent du dossier"),
        ({"create": True}, "rien à transférer"),
        ({"destination": "ASSO-TILLEULS", "all": True}, "identiques"),
    ],
)
def test_bad_requests(seeded: Engine, kwargs: dict, message: str) -> None:
    with pytest.raises(TransferError, match=message):
        transfer(seeded, req(**kwargs))
    assert _count(seeded, dossier) == 2  # the two example dossiers, nothing created


def test_failure_midway_rolls_everything_back(
    seeded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = transfer_module._copy_salarie
    calls = []

    def fail_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer_module, "_copy_salarie", fail_on_third)
    before = [_count(seeded, t) for t in (dossier, employeur, salarie, taux, contrat)]
    with pytest.raises(RuntimeError):
        transfer(seeded, req(all=True, create=True, move=True))
    assert [_count(seeded, t) for t in (dossier, employeur, salarie, taux, contrat)] == before
