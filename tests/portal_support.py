"""Pointing a test root at the local Net-Entreprises double, with the test account stored."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gedflow.portal.credentials import CredentialStore, Identifiants
from gedflow.settings import Settings, load_settings

from .api_server import NOM, PASSWORD, PRENOM, SIRET, FakeNetEntreprises
from .conftest import EXAMPLES

ACCOUNT = Identifiants(SIRET, NOM, PRENOM, PASSWORD)
# A CRM to serve, the moment of the retrieval tests, the servers' clock.
CRM = (EXAMPLES / "crm_nominatif/travail/2022/2022_08/crm_2022_07.xml").read_bytes()
NOW = datetime(2022, 8, 23, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def wall(*parts: int) -> datetime:
    """A time on the servers' wall clock (naive, as the windows are)."""
    return datetime(*parts, tzinfo=PARIS).replace(tzinfo=None)


def connect(settings: Settings, fake: FakeNetEntreprises, gedflow: str = "",
            connexion: str = "", store: bool = True) -> Settings:
    """Rewrite gedflow.toml: [gedflow] + `gedflow`, then [connexion] on `fake` + `connexion`."""
    toml = settings.root / "gedflow.toml"
    base = toml.read_text().split("[connexion]")[0]
    values = {key: f'"{url}"' for key, url in fake.urls().items()}
    values.update(delai="1", attente="0.01")
    values.update(line.split(" = ", 1) for line in connexion.splitlines() if line)
    toml.write_text(base + gedflow + "\n[connexion]\n"
                    + "".join(f"{key} = {value}\n" for key, value in values.items()))
    configured = load_settings(settings.root)
    if store:
        CredentialStore(configured).save("administrateur", ACCOUNT)
    return configured
