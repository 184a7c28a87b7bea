"""The daily checks: hires not declared in time, rates expired or expiring, as pure functions
and as the served flows (artifacts)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlalchemy import Engine, select, update

from gedflow.crm.taux import expiring
from gedflow.db.reading import reading
from gedflow.db.tables import contrat, salarie, taux
from gedflow.dpae.suivi import count_working_days, undeclared
from gedflow.settings import Settings

from .dpae_support import HIRE_1, HIRE_2, run


@given(st.dates(), st.dates())
def test_working_days_count_as_numpy_does(start: date, end: date) -> None:
    assert count_working_days(start, end) == int(np.busday_count(start, end))


def _undeclared(registry: Engine, today: date) -> list[dict]:
    with reading(registry.url.render_as_string(hide_password=False)) as conn:
        return undeclared(conn, today)


def test_hires_to_declare_now_and_late_ones(registry: Engine, settings: Settings) -> None:
    run(registry, settings, HIRE_1, HIRE_2)  # hired on 10/03/2025, not sent (mode test)
    assert _undeclared(registry, date(2025, 3, 1)) == []  # more than 8 days ahead
    soon = _undeclared(registry, date(2025, 3, 3))
    assert [r["matricule"] for r in soon] == ["E001", "E002"]
    assert not any(r["en_retard"] for r in soon)
    assert {r["date_embauche"] for r in soon} == {"2025-03-10"}
    assert "nir" not in soon[0]
    late = _undeclared(registry, date(2025, 3, 11))
    assert all(r["en_retard"] and "sans DPAE" in r["alerte"] for r in late)
    with registry.begin() as conn:
        conn.execute(update(contrat).where(contrat.c.id == late[0]["contrat"])
                     .values(statut="envoye"))
    assert len(_undeclared(registry, date(2025, 3, 11))) == 1  # a sent hire is not listed


def test_expired_and_expiring_rates_over_every_siret(registry: Engine, settings: Settings) -> None:
    with registry.connect() as conn:
        everyone = expiring(conn, date(2022, 6, 1))
    assert everyone == []  # the examples' rates are valid then
    with registry.begin() as conn:
        first = conn.execute(select(salarie.c.id).order_by(salarie.c.id)).scalars().first()
        conn.execute(update(taux).where(taux.c.salarie_id == first)
                     .values(type_taux="01", valide_jusqu_au=date(2022, 6, 10)))
    with registry.connect() as conn:
        soon = expiring(conn, date(2022, 6, 1))
        gone = expiring(conn, date(2022, 6, 11))
    assert [r["alerte"] for r in soon] == ["expire bientôt"]
    assert [r["alerte"] for r in gone] == ["taux expiré : grille par défaut"]
    assert list(gone[0])[:2] == ["siret", "matricule"]


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_daily_flows_publish_their_counts(registry: Engine, settings: Settings) -> None:
    from flows.maintenance import expiration_taux, suivi_dpae

    run(registry, settings, HIRE_1, HIRE_2)
    assert suivi_dpae(str(settings.root), "2025-03-11") == {
        "sans_ar": 0, "a_declarer": 0, "en_retard": 2, "dsn_sans_dpae": 0}
    assert expiration_taux(str(settings.root), "2022-06-01") == {"expires": 0, "bientot": 0}
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["suivi-dpae", "suivi-dpae-a-declarer"])))
    markdown = next(a for a in found if a.key == "suivi-dpae")
    assert "embauches passées sans DPAE : 2" in markdown.data
    table = next(a for a in found if a.key == "suivi-dpae-a-declarer")
    assert HIRE_1["nir"] not in str(table.data) and "E001" in str(table.data)


def test_status_board_per_dossier_and_month(registry: Engine, settings: Settings) -> None:
    from gedflow.board import boards

    run(registry, settings, HIRE_1, HIRE_2)
    with registry.begin() as conn:
        first = conn.execute(select(contrat.c.id).order_by(contrat.c.id)).scalars().first()
        conn.execute(update(contrat).where(contrat.c.id == first).values(statut="enregistree"))
    [board] = [b for b in boards(registry) if b.dossier == "ATELIERS-DUPRE"]
    assert board.key == "etat-ateliers-dupre-2025-03" and board.month == "2025-03"
    assert "| DPAE (embauches du mois) | 2 |" in board.markdown
    assert "| DPAE AR : enregistrées | 1 |" in board.markdown
    assert "| CRM reçus | 0 |" in board.markdown
    assert HIRE_1["nir"] not in board.markdown
