"""`gedflow doctor` against local servers: the seed's three cases (all ✓; a server ✗; servers ✓
but authentication refused), every ✓/✗ reason, the proxy modes, TLS, and the offline mode."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from gedflow.portal.doctor import diagnose
from gedflow.portal.http import PROXY_PASSWORD_ENV, Portal, PortalError
from gedflow.settings import Settings

from .api_server import SIRET, FakeNetEntreprises
from .pg import free_port
from .portal_support import connect
from .proxy_server import LocalProxy

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = SQLITE


@pytest.fixture
def fake():
    with FakeNetEntreprises() as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (no authority vouches for it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "faux-net-entreprises")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _doctor(settings: Settings, *args: str):
    return CliRunner().invoke(app, ["doctor", *args, "--root", str(settings.root)])


def _details(settings: Settings) -> dict[str, tuple[bool, str]]:
    return {c.nom: (c.ok, c.detail) for c in diagnose(settings).checks}


def test_all_servers_answer_and_credentials_accepted(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    done = _doctor(configured)
    assert done.exit_code == 0, done.output
    assert done.output.count("✓") == 7 and "✗" not in done.output  # 6 endpoints + summary
    details = _details(configured)
    assert details["Authentification API DSN"] == (True, "identifiants de administrateur acceptés")
    assert details["Dépôt API DSN"] == (True, "serveur joignable (HTTP 401 sans jeton : normal)")


def test_one_server_down(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion=(
        f'dpae_depot = "http://127.0.0.1:{free_port()}/deposer-dsn/1.0/"'))
    done = _doctor(configured)
    assert done.exit_code == 1
    details = _details(configured)
    assert details["Dépôt API DPAE"] == (
        False, "connexion refusée : aucun service à cette adresse (pare-feu ?)")
    assert sum(ok for ok, _ in details.values()) == 5


def test_servers_answer_but_authentication_refused(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    fake.accounts[SIRET] = ("Dupre", "Jean", "Autre-Secret-7")  # case and password changed
    done = _doctor(configured)
    assert done.exit_code == 1
    ok, detail = _details(configured)["Authentification API DSN"]
    assert not ok and detail.startswith("serveur joignable, mais HTTP 401 : identifiants refusés")
    assert "casse" in detail
    assert _details(configured)["Retours API DSN"][0]  # the other servers are fine


def test_no_credentials_stored(settings: Settings, fake) -> None:
    configured = connect(settings, fake, store=False)
    ok, detail = _details(configured)["Authentification API DPAE"]
    assert not ok and "gedflow credentials set --user administrateur" in detail


@pytest.mark.parametrize(("mode", "reason"), [
    ("403", "HTTP 403 : accès refusé : compte bloqué"),
    ("422", "HTTP 422 : identifiants mal formés"),
    ("429", "HTTP 429 : trop de requêtes"),
    ("500", "HTTP 500 : erreur du serveur"),
    ("503", "HTTP 503 : erreur du serveur"),
    ("slow", "délai dépassé (0.5 s)"),
])
def test_each_reason(settings: Settings, fake, mode: str, reason: str) -> None:
    configured = connect(settings, fake, connexion="delai = 0.5")
    fake.mode = mode
    ok, detail = _details(configured)["Authentification API DSN"]
    assert not ok and reason in detail


def test_locked_account(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    fake.locked.add(SIRET)
    ok, detail = _details(configured)["Authentification API DPAE"]
    assert not ok and "compte bloqué" in detail and detail.startswith("serveur joignable")


def test_dns_failure(settings: Settings, fake, monkeypatch) -> None:
    """The name does not resolve (the resolver is stubbed: no query leaves the machine)."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "services.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    configured = connect(settings, fake, connexion=(
        'dsn_authentification = "http://services.example.invalid/authentifier/1.0/"'))
    ok, detail = _details(configured)["Authentification API DSN"]
    assert not ok and detail.startswith("nom de serveur introuvable (DNS)")


def test_tls_verified_unless_disabled_with_a_loud_warning(settings: Settings, certificate,
                                                          caplog) -> None:
    with FakeNetEntreprises(certificate) as tls:
        configured = connect(settings, tls)
        ok, detail = _details(configured)["Authentification API DSN"]
        assert not ok and detail.startswith("erreur TLS")
        insecure = connect(settings, tls, connexion="securise = false", store=False)
        done = _doctor(insecure)
        assert done.exit_code == 0, done.output
        assert "⚠ vérification TLS DÉSACTIVÉE" in done.output
        assert "vérification TLS est DÉSACTIVÉE" in caplog.text


def test_through_an_authenticating_proxy(settings: Settings, fake, monkeypatch) -> None:
    monkeypatch.setenv(PROXY_PASSWORD_ENV, "proxy:secret/à")
    with LocalProxy("agent", "proxy:secret/à") as proxy:
        configured = connect(settings, fake, connexion=(
            f'mode = "proxy"\nproxy_hote = "127.0.0.1"\nproxy_port = {proxy.port}\n'
            'proxy_utilisateur = "agent"'))
        done = _doctor(configured)
        assert done.exit_code == 0, done.output
        assert "✓ Proxy" in done.output
        assert any("/authentifier/1.0/" in line for line in proxy.relayed)
        assert len(proxy.relayed) == len(fake.requests)  # everything went through the proxy
        monkeypatch.setenv(PROXY_PASSWORD_ENV, "faux")
        ok, detail = _details(configured)["Authentification API DSN"]
        assert not ok and "HTTP 407 : le proxy refuse l'authentification" in detail


def test_proxy_down(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion=(
        f'mode = "proxy"\nproxy_hote = "127.0.0.1"\nproxy_port = {free_port()}'))
    details = _details(configured)
    assert details["Proxy"][0] is False and details["Proxy"][1].startswith("proxy injoignable")
    assert details["Dépôt API DSN"] == (False, "proxy injoignable : connexion refusée par le proxy")


def test_system_proxy_from_the_environment(settings: Settings, fake, monkeypatch) -> None:
    with LocalProxy() as proxy:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        configured = connect(settings, fake, connexion='mode = "systeme"')
        assert diagnose(configured).ok
        assert proxy.relayed
        direct = connect(settings, fake, store=False)  # mode direct ignores the environment
        before = len(proxy.relayed)
        assert diagnose(direct).ok and len(proxy.relayed) == before


def test_retries_429_then_succeeds(settings: Settings, fake) -> None:
    configured = connect(settings, fake, connexion="essais = 3")
    fake.fail_next = [429, 503]
    with Portal(configured) as portal:
        assert portal.request("POST", fake.urls()["dsn_authentification"], content=(
            b"<identifiants><siret>12345678200010</siret><nom>DUPRE</nom><prenom>Jean</prenom>"
            b"<motdepasse>Bon-Mot2Passe!</motdepasse><service>25</service></identifiants>"
        )).text.startswith("JETON-")
    fake.fail_next = [500, 500, 500]
    with Portal(configured) as portal, pytest.raises(PortalError, match="HTTP 500"):
        portal.request("GET", fake.urls()["dsn_depot"])


def test_offline_mode_tests_nothing(settings: Settings, fake) -> None:
    configured = connect(settings, fake)
    runner = CliRunner()
    root = ["--root", str(configured.root)]
    assert runner.invoke(app, ["offline", "status", *root]).exit_code == 0
    assert runner.invoke(app, ["offline", "on", *root]).exit_code == 0
    status = runner.invoke(app, ["offline", "status", *root])
    assert status.exit_code == 1 and "mode assistance actif" in status.output
    done = _doctor(configured)
    assert done.exit_code == 1 and "non testé : mode assistance" in done.output
    assert fake.requests == []  # nothing left the machine
    assert "désactivé" in runner.invoke(app, ["offline", "off", *root]).output
    assert _doctor(configured).exit_code == 0
