"""The registry's columnar copy stands for the registry: the CRM's registry load gives what a
SQL query of the database gives, on SQLite and PostgreSQL, after every kind of change."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import Connection, Engine, delete, func, or_, select, update

from gedflow.checks import nir_numbers
from gedflow.crm.integrate import load_registry
from gedflow.crm.reconcile import REGISTRY_COLUMNS
from gedflow.db.tables import employeur, registre_version, salarie, taux, taux_communique
from gedflow.registry import snapshot

SIRETS = ["81234567600017", "42198765200029", "12345678200010"]
DAYS = [date(2022, 1, 1), date(2022, 8, 13), date(2023, 6, 1)]


def _sql(conn: Connection, on: date) -> pd.DataFrame:
    """The oracle: the rate in force on `on`, straight from the tables."""
    in_force = or_(taux.c.date_effet.is_(None), taux.c.date_effet <= on)
    latest = (select(taux.c.salarie_id, func.max(taux.c.id).label("taux_id"))
              .where(in_force).group_by(taux.c.salarie_id).subquery())
    rows = conn.execute(
        select(employeur.c.siret, salarie.c.id, latest.c.taux_id, salarie.c.matricule,
               salarie.c.nir, salarie.c.nom, salarie.c.prenoms, taux.c.taux_pas)
        .join(employeur, employeur.c.id == salarie.c.employeur_id)
        .outerjoin(latest, latest.c.salarie_id == salarie.c.id)
        .outerjoin(taux, taux.c.id == latest.c.taux_id)
    ).all()
    frame = pd.DataFrame(rows, columns=[c for c in REGISTRY_COLUMNS if c != "nir_cle"])
    return _canonical(frame.assign(nir_cle=nir_numbers(pa.array(frame["nir"], pa.large_string()))))


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).where(frame.notna(), None)
    out["taux_id"] = [None if v is None else int(v) for v in out["taux_id"]]
    return out.sort_values("salarie_id").reset_index(drop=True)


def _check(engine: Engine, cache: Path) -> None:
    with engine.connect() as conn:
        for day in DAYS:
            got = _canonical(load_registry(conn, SIRETS, day, cache))
            pd.testing.assert_frame_equal(got, _sql(conn, day), check_dtype=False)


def _add_rate(conn: Connection, person: int, rate: str, effet: date | None, **extra) -> None:
    conn.execute(taux.insert().values(salarie_id=person, taux_pas=rate, date_effet=effet,
                                      created_at=datetime.now(UTC), **extra))


def _first_person(conn: Connection) -> int:
    return conn.execute(select(func.min(salarie.c.id))).scalar_one()


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(registre_version.c.version)).scalar_one()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _file(engine: Engine, cache: Path) -> Path:
    with engine.connect() as conn:
        return snapshot.location(cache, conn)


def test_the_copy_gives_what_the_tables_give(registry: Engine, cache: Path) -> None:
    with registry.begin() as conn:
        person = _first_person(conn)
        _add_rate(conn, person, "9.90", date(2023, 1, 1))  # future, then in force
        _add_rate(conn, person + 1, None, None)  # no rate (barème)
    _check(registry, cache)  # built from the database
    _check(registry, cache)  # read from the file
    assert stat.S_IMODE(_file(registry, cache).stat().st_mode) == 0o600  # NIR, names


def test_new_rates_are_read_on_top_of_the_copy(registry: Engine, cache: Path) -> None:
    _check(registry, cache)
    built = _file(registry, cache).stat().st_mtime_ns
    version = _version(registry)
    with registry.begin() as conn:
        _add_rate(conn, _first_person(conn), "3.30", date(2022, 8, 1))
        conn.execute(update(taux).values(valide_jusqu_au=date(2022, 12, 31),
                                         identifiant_crm="900"))  # a CRM renews validity
    assert _version(registry) == version  # neither change makes the copy stale
    _check(registry, cache)
    assert _file(registry, cache).stat().st_mtime_ns == built


@pytest.mark.parametrize("change", ["nom", "taux_pas", "delete_rate", "delete_salarie",
                                    "new_salarie", "corrupt"])
def test_every_other_change_rebuilds_the_copy(registry: Engine, cache: Path, change: str) -> None:
    _check(registry, cache)
    with registry.begin() as conn:
        person = _first_person(conn)
        if change == "nom":
            conn.execute(update(salarie).where(salarie.c.id == person).values(nom="NOUVEAU"))
        elif change == "taux_pas":
            conn.execute(update(taux).where(taux.c.salarie_id == person).values(taux_pas="1.00"))
        elif change == "delete_rate":
            conn.execute(delete(taux).where(taux.c.salarie_id == person))
        elif change == "delete_salarie":
            conn.execute(delete(taux).where(taux.c.salarie_id == person))
            conn.execute(delete(salarie).where(salarie.c.id == person))
        elif change == "new_salarie":
            conn.execute(salarie.insert().values(
                employeur_id=conn.execute(select(func.min(employeur.c.id))).scalar_one(),
                matricule="Z999", nir="", nom="NOUVEAU", prenoms="Ana"))
        else:
            _file(registry, cache).write_bytes(b"not arrow")
    _check(registry, cache)


def test_a_rate_committed_late_below_the_highest_id_is_not_missed(registry: Engine,
                                                                   cache: Path) -> None:
    """PostgreSQL hands out ids before commit: a rate may land after the copy, below its top."""
    with registry.begin() as conn:
        person = _first_person(conn)
        top = conn.execute(select(func.max(taux.c.id))).scalar_one()
        _add_rate(conn, person, "2.50", None, id=top + 10)
    _check(registry, cache)
    version = _version(registry)
    with registry.begin() as conn:
        _add_rate(conn, person + 1, "2.00", None, id=top + 1)
    assert _version(registry) == version
    _check(registry, cache)


def test_an_empty_registry_has_an_empty_copy(engine: Engine, cache: Path) -> None:
    _check(engine, cache)
    _check(engine, cache)
    with engine.connect() as conn:
        assert load_registry(conn, SIRETS, DAYS[0], cache).empty


def test_a_change_after_a_read_in_the_same_transaction_rebuilds_the_copy(
        registry: Engine, cache: Path) -> None:
    """PostgreSQL bumps the version once per transaction (an import's 100,000 statements, one
    row version); a copy built in the middle of a transaction does not hide what follows."""
    with registry.begin() as conn:
        person = _first_person(conn)
        for name in ("UN", "DEUX", "TROIS"):  # many changes: one bump
            conn.execute(update(salarie).where(salarie.c.id == person).values(nom=name))
        load_registry(conn, SIRETS, DAYS[0], cache)  # a copy built here, at this version
        conn.execute(update(salarie).where(salarie.c.id == person).values(nom="APRES"))
    _check(registry, cache)  # the change after the copy is seen


def _communicate(conn: Connection, person: int, rate: str | None, **extra) -> None:
    conn.execute(taux_communique.insert().values(
        salarie_id=person, identifiant_crm="900000000000001234", taux=rate,
        date_disponibilite=date(2022, 2, 10), valide_jusqu_au=date(2022, 4, 30), **extra))


def _communicated_sql(conn: Connection) -> pd.DataFrame:
    rows = conn.execute(select(*(taux_communique.c[c] for c in snapshot.COMMUNICATED))).all()
    return _canonical_communicated(pd.DataFrame(rows, columns=snapshot.COMMUNICATED))


def _canonical_communicated(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).where(frame.notna(), None)
    for column in ("date_disponibilite", "date_effet", "valide_jusqu_au"):
        out[column] = [None if v is None else str(v)[:10] for v in out[column]]
    return out.sort_values("id").reset_index(drop=True)


def _check_communicated(engine: Engine, cache: Path) -> None:
    with engine.connect() as conn:
        got = _canonical_communicated(snapshot.communicated(conn, cache))
        pd.testing.assert_frame_equal(got, _communicated_sql(conn), check_dtype=False)


def _communicated_file(engine: Engine, cache: Path) -> Path:
    with engine.connect() as conn:
        return snapshot.location(cache, conn, "communiques")


def test_the_communicated_rates_copy_gives_what_the_table_gives(registry: Engine,
                                                                cache: Path) -> None:
    _check_communicated(registry, cache)  # empty
    with registry.begin() as conn:
        person = _first_person(conn)
        _communicate(conn, person, "7.50", date_effet=date(2022, 3, 1))
        _communicate(conn, person + 1, None)  # a CRM giving no rate
    _check_communicated(registry, cache)  # built from the database
    built = _communicated_file(registry, cache).stat().st_mtime_ns
    version = _version(registry)
    with registry.begin() as conn:
        _communicate(conn, person, "8.00")  # the next CRM: added on top of the copy
    assert _version(registry) == version
    _check_communicated(registry, cache)
    assert _communicated_file(registry, cache).stat().st_mtime_ns == built
    assert stat.S_IMODE(_communicated_file(registry, cache).stat().st_mode) == 0o600


@pytest.mark.parametrize("change", ["update", "delete", "delete_salarie"])
def test_a_changed_or_removed_communicated_rate_rebuilds_its_copy(registry: Engine, cache: Path,
                                                                  change: str) -> None:
    with registry.begin() as conn:
        person = _first_person(conn)
        _communicate(conn, person, "7.50")
        _communicate(conn, person + 1, "2.00")
    _check_communicated(registry, cache)
    with registry.begin() as conn:
        mine = taux_communique.c.salarie_id == person
        if change == "update":
            conn.execute(update(taux_communique).where(mine).values(taux="9.90"))
        elif change == "delete":
            conn.execute(delete(taux_communique).where(mine))
        else:
            conn.execute(delete(taux).where(taux.c.salarie_id == person))
            conn.execute(delete(salarie).where(salarie.c.id == person))
    _check_communicated(registry, cache)
