"""The credential store and `gedflow credentials`: encrypted at rest, owner-only, the seed's
pitfalls refused before saving, the password never printed."""

from __future__ import annotations

import stat
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from flows.cli import app
from gedflow.portal.credentials import (
    PASSPHRASE_ENV,
    CredentialError,
    CredentialStore,
    problems,
)
from gedflow.settings import Settings

from .api_server import PASSWORD, SIRET, FakeNetEntreprises
from .portal_support import ACCOUNT, connect

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = SQLITE


def _cli(settings: Settings, *args: str, input: str | None = None):
    return CliRunner().invoke(app, [*args, "--root", str(settings.root)], input=input)


def test_saved_encrypted_owner_only_and_read_back(settings: Settings) -> None:
    store = CredentialStore(settings)
    store.save("administrateur", replace(ACCOUNT, dossiers=("ASSO-TILLEULS",)))
    record = store.folder / "administrateur.json.chiffre"
    raw = record.read_bytes()
    assert PASSWORD.encode() not in raw and SIRET.encode() not in raw
    for path in (record, store.folder / "cle"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = store.load("administrateur")
    assert (back.siret, back.nom, back.prenom, back.motdepasse, back.service, back.dossiers) == (
        SIRET, "DUPRE", "Jean", PASSWORD, "25", ("ASSO-TILLEULS",))
    assert back.serves("ASSO-TILLEULS") and not back.serves("AUTRE")
    assert PASSWORD not in repr(back)
    assert store.users() == ["administrateur"]


@pytest.mark.parametrize(("change", "words"), [
    ({"motdepasse": " Bon-Mot2Passe!"}, "mot de passe : espace au début ou à la fin"),
    ({"nom": "DUPRE "}, "nom : espace"),
    ({"siret": "12345678200011"}, "SIRET '12345678200011' invalide"),
    ({"siret": ""}, "SIRET vide"),
    ({"service": "27"}, "code service '27' inconnu"),
])
def test_seed_pitfalls_refused_before_saving(settings: Settings, change: dict,
                                             words: str) -> None:
    wrong = replace(ACCOUNT, **change)
    assert any(words in p for p in problems(wrong))
    with pytest.raises(CredentialError, match="non enregistrés"):
        CredentialStore(settings).save("administrateur", wrong)
    assert CredentialStore(settings).users() == []


def test_case_is_kept_verbatim(settings: Settings) -> None:
    CredentialStore(settings).save("paie", replace(ACCOUNT, nom="Dupré", prenom="jean"))
    back = CredentialStore(settings).load("paie")
    assert (back.nom, back.prenom) == ("Dupré", "jean")


def test_passphrase_protects_the_key(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "une longue phrase secrète")
    store = CredentialStore(settings)
    store.save("administrateur", ACCOUNT)
    assert not (store.folder / "cle").exists()  # derived from the passphrase, not stored
    assert store.load("administrateur").motdepasse == PASSWORD
    monkeypatch.setenv(PASSPHRASE_ENV, "une autre phrase")
    with pytest.raises(CredentialError, match="illisibles"):
        store.load("administrateur")


def test_unknown_user_and_bad_user_name(settings: Settings) -> None:
    with pytest.raises(CredentialError, match="gedflow credentials set --user inconnu"):
        CredentialStore(settings).load("inconnu")
    with pytest.raises(Exception, match="invalide"):
        CredentialStore(settings).load("../etc")


def test_cli_set_list_test_remove(settings: Settings) -> None:
    with FakeNetEntreprises() as fake:
        connect(settings, fake, store=False)
        done = _cli(settings, "credentials", "set", "--user", "paie", "--dossier",
                    "ASSO-TILLEULS", input=f"{SIRET}\nDUPRE\nJean\n{PASSWORD}\n\n")
        assert done.exit_code == 0, done.output
        assert "la casse est conservée" in done.output and PASSWORD not in done.output
        assert "service 25" in done.output
        listing = _cli(settings, "credentials", "list")
        assert "paie" in listing.output and "ASSO-TILLEULS" in listing.output
        assert PASSWORD not in listing.output
        tested = _cli(settings, "credentials", "test", "--user", "paie")
        assert tested.exit_code == 0, tested.output
        assert tested.output.count("✓") == 2 and "identifiants de paie acceptés" in tested.output
        fake.accounts[SIRET] = ("DUPRE", "Jean", "nouveau-mot-de-passe")  # changed on the portal
        refused = _cli(settings, "credentials", "test", "--user", "paie")
        assert refused.exit_code == 1 and "identifiants refusés" in refused.output
    assert _cli(settings, "credentials", "remove", "--user", "paie").exit_code == 0
    assert _cli(settings, "credentials", "remove", "--user", "paie").exit_code == 1
    assert "aucun identifiant" in _cli(settings, "credentials", "list").output


def test_cli_refuses_a_password_with_spaces(settings: Settings) -> None:
    done = _cli(settings, "credentials", "set", input=f"{SIRET}\nDUPRE\nJean\n{PASSWORD} \n26\n")
    assert done.exit_code == 2 and "espace au début ou à la fin" in done.output
    assert CredentialStore(settings).users() == []
