"""The daily checks: hires not declared in time, rates expired or expiring, as pure functions
and as the served flows (artifacts)."""

from __future__ import annotations

from datetime import date

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlalchemy import Engine, select, update

from gedflow.crm.taux import expiring
from gedflow.db.tables import contrat, salarie, taux
from gedflow.dpae.suivi import undeclared
from gedflow.settings import Settings

from .dpae_support import HIRE_1, HIRE_2, run


def test_hires_to_declare_now_and_late_ones(registry: Engine, settings: Settings) -> None:
    run(registry, settings, HIRE_1, HIRE_2)  # hired on 10/03/2025, not sent (mode test)
    assert undeclared(registry, date(2025, 3, 1)).empty  # more than 8 days ahead
    soon = undeclared(registry, date(2025, 3, 3))
    assert list(soon["matricule"]) == ["E001", "E002"]
    assert not soon["en_retard"].any() and set(soon["date_embauche"]) == {"2025-03-10"}
    assert "nir" not in soon.columns
    late = undeclared(registry, date(2025, 3, 11))
    assert late["en_retard"].all() and late["alerte"].str.contains("sans DPAE").all()
    with registry.begin() as conn:
        conn.execute(update(contrat).where(contrat.c.id == int(late["contrat"].iloc[0]))
                     .values(statut="envoye"))
    assert len(undeclared(registry, date(2025, 3, 11))) == 1  # a sent hire is not listed


def test_expired_and_expiring_rates_over_every_siret(registry: Engine, settings: Settings) -> None:
    with registry.connect() as conn:
        everyone = expiring(conn, date(2022, 6, 1), settings.cache)
    assert everyone.empty  # the examples' rates are valid then
    with registry.begin() as conn:
        first = conn.execute(select(salarie.c.id).order_by(salarie.c.id)).scalars().first()
        conn.execute(update(taux).where(taux.c.salarie_id == first)
                     .values(type_taux="01", valide_jusqu_au=date(2022, 6, 10)))
    with registry.connect() as conn:
        soon = expiring(conn, date(2022, 6, 1), settings.cache)
        gone = expiring(conn, date(2022, 6, 11), settings.cache)
    assert list(soon["alerte"]) == ["expire bientôt"]
    assert list(gone["alerte"]) == ["taux expiré : grille par défaut"]
    assert list(gone.columns[:2]) == ["siret", "matricule"]


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
