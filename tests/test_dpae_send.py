"""Sending DPAE batches by e-mail: a real SMTP server on loopback (aiosmtpd), the encrypted
attachment decrypted with the test key, test mode (.eml only), idempotency, mapibox import."""

import email
import email.policy
import socket
from datetime import UTC, datetime

import gnupg
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from flows.cli import app
from gedflow.db.tables import contrat, dpae_batch
from gedflow.dpae.send import send_batches
from gedflow.errors import ConfigError
from gedflow.mail import read_mapibox, write_mail_section
from gedflow.mail import send_smtp as real_send_smtp
from gedflow.settings import Settings, load_settings

from .dpae_support import HIRE_1, HIRE_2
from .golden import assert_golden
from .test_crypto_phases import _real, _use_keys

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
MAPIBOX = (b"[mapibox]\nprofil=Paie Tilleuls\na=due@urssaf.example\nsujet=DUE TILLEULS\n"
           b"note=Ci-joint\n")


def _configure(settings: Settings, port: int) -> Settings:
    toml = settings.root / "gedflow.toml"
    write_mail_section(toml, {**read_mapibox(MAPIBOX), "smtp_hote": "127.0.0.1",
                              "smtp_port": str(port)})
    return load_settings(settings.root)


def test_real_sending_over_smtp(registry: Engine, settings: Settings, urssaf_keys,
                                smtp_server) -> None:
    port, inbox = smtp_server
    _use_keys(registry, settings, urssaf_keys)
    built = _real(registry, settings, HIRE_1, HIRE_2)
    configured = _configure(settings, port)
    [sent] = send_batches(registry, configured, "reel")
    assert sent.outcome == "envoye"
    [message] = inbox.messages
    assert message["Subject"] == f"DUE TILLEULS lot {built.batch_id}"
    assert message["To"] == "due@urssaf.example"
    assert "Ci-joint" in message.get_body().get_content()
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "dpae.txt.gpg"
    clear = gnupg.GPG(gnupghome=str(urssaf_keys["test"].home)).decrypt(part.get_content())
    assert clear.ok and clear.data == built.files["dpae.txt"].read_bytes()
    with registry.connect() as conn:
        assert conn.execute(select(dpae_batch.c.envoi)).scalar() == "envoye"
        assert set(conn.execute(select(contrat.c.statut)).scalars()) == {"envoye"}
    assert send_batches(registry, configured, "reel") == []  # never twice
    assert len(inbox.messages) == 1


def test_test_mode_writes_an_eml_and_sends_nothing(registry: Engine, settings: Settings,
                                                   urssaf_keys, smtp_server) -> None:
    port, inbox = smtp_server
    _use_keys(registry, settings, urssaf_keys)
    built = _real(registry, settings, HIRE_1)
    [done] = send_batches(registry, _configure(settings, port), "test")
    assert done.outcome == "eml" and inbox.messages == []
    eml = (built.folder / "dpae.eml").read_bytes()
    assert b"Subject: DUE TILLEULS lot" in eml and b"dpae.txt.gpg" in eml
    assert_golden(_shape(eml, built.batch_id), "dpae/test_mode.eml.txt")


def _shape(eml: bytes, batch_id: str) -> str:
    """What a reader of the .eml sees, without what changes every time (date, message id,
    boundary, the ciphertext, the batch id)."""
    message = email.message_from_bytes(eml, policy=email.policy.default)
    lines = [f"{h}: {message[h]}".replace(batch_id, "<lot>")
             for h in ("From", "To", "Subject", "MIME-Version") if message[h]]
    lines.append(f"Content-Type: {message.get_content_type()}")
    lines += ["", message.get_body(("plain",)).get_content().rstrip(), ""]
    for part in message.iter_attachments():
        lines.append(f"pièce jointe : {part.get_filename()} ({part.get_content_type()}, "
                     f"{'chiffrée' if part.get_content() else 'vide'})")
    return "\n".join(lines) + "\n"


def test_an_interrupted_send_is_never_repeated(registry: Engine, settings: Settings,
                                               urssaf_keys, smtp_server,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    port, inbox = smtp_server
    _use_keys(registry, settings, urssaf_keys)
    _real(registry, settings, HIRE_1)
    configured = _configure(settings, port)

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies during the SMTP conversation

    monkeypatch.setattr("gedflow.dpae.send.send_smtp", crash)
    with pytest.raises(KeyboardInterrupt):
        send_batches(registry, configured, "reel")
    monkeypatch.setattr("gedflow.dpae.send.send_smtp", real_send_smtp)
    [again] = send_batches(registry, configured, "reel")
    assert again.outcome == "incertain" and inbox.messages == []


def test_smtp_refusal_is_a_clear_error(registry: Engine, settings: Settings, urssaf_keys):
    from gedflow.mail import SendError

    _use_keys(registry, settings, urssaf_keys)
    _real(registry, settings, HIRE_1)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SendError, match="envoi SMTP impossible"):
        send_batches(registry, _configure(settings, port), "reel")


def test_mapibox_import_keeps_other_sections(settings: Settings) -> None:
    toml = settings.root / "gedflow.toml"
    before = toml.read_text()
    write_mail_section(toml, read_mapibox(MAPIBOX))
    write_mail_section(toml, read_mapibox(MAPIBOX.replace(b"DUE TILLEULS", b"DUE 2")))
    loaded = load_settings(settings.root)
    assert (loaded.mail_a, loaded.mail_sujet, loaded.mail_profil) == (
        "due@urssaf.example", "DUE 2", "Paie Tilleuls")
    assert toml.read_text().startswith(before.rstrip()) and toml.read_text().count("[mail]") == 1
    with pytest.raises(ConfigError, match="destinataire"):
        read_mapibox(b"profil=x\n")


def test_mapibox_import_reads_windows_1252_and_keeps_the_users_keys(settings: Settings) -> None:
    toml = settings.root / "gedflow.toml"
    toml.write_text(toml.read_text() + "\n# serveur de l'office\n[mail]\nsujet = \"ancien\"\n"
                    "smtp_hote = \"smtp.office.example\"  # relais interne\nsmtp_port = 587\n")
    mapibox = ("[mapibox]\r\nprofil=Paie Tilleuls\r\na=due@urssaf.example\r\n"
               "sujet=Déclaration Unique d'Embauche TEST01\r\nnote=Ci-joint la DUE\r\n")
    cfg = settings.root / "mapibox.cfg"
    cfg.write_bytes(mapibox.encode("cp1252"))
    result = CliRunner().invoke(app, ["mail", "import-mapibox", str(cfg), "--root",
                                      str(settings.root)])
    assert result.exit_code == 0, result.output
    text = toml.read_text(encoding="utf-8")
    assert "# serveur de l'office" in text and "# relais interne" in text
    loaded = load_settings(settings.root)
    assert loaded.mail_sujet == "Déclaration Unique d'Embauche TEST01"
    assert (loaded.mail_smtp_hote, loaded.mail_smtp_port) == ("smtp.office.example", 587)
    assert loaded.database_url == settings.database_url



def test_follow_up_after_five_working_days(registry: Engine, settings: Settings, urssaf_keys,
                                           smtp_server) -> None:
    from datetime import date

    from gedflow.db.reading import reading
    from gedflow.dpae.suivi import overdue

    port, _inbox = smtp_server
    _use_keys(registry, settings, urssaf_keys)
    _real(registry, settings, HIRE_1, HIRE_2)
    send_batches(registry, _configure(settings, port), "reel")
    with registry.begin() as conn:  # sent on Monday 03/03/2025
        conn.execute(dpae_batch.update().values(envoye_at=datetime(2025, 3, 3, 10, tzinfo=UTC)))
        first = conn.execute(select(contrat.c.id).order_by(contrat.c.id)).scalars().first()
    with registry.connect() as conn:  # a flow's SQLAlchemy connection
        assert overdue(conn, date(2025, 3, 7)) == []  # Friday: 4 working days
        late = overdue(conn, date(2025, 3, 10))  # next Monday: 5
    assert [item["jours_ouvres"] for item in late] == [5, 5]
    assert {item["envoye_le"] for item in late} == {"2025-03-03"}
    with registry.begin() as conn:  # an AR came for the first one
        conn.execute(contrat.update().where(contrat.c.id == first).values(statut="enregistree"))
    with reading(registry.url.render_as_string(hide_password=False)) as conn:  # the driver's
        assert len(overdue(conn, date(2025, 3, 10))) == 1


def test_end_to_end_hires_to_compte_rendu(registry: Engine, settings: Settings, urssaf_keys,
                                          smtp_server) -> None:
    """hires → test de préparation → dpae.txt → encrypted → sent → AR from the sent file →
    compte rendu with the right statut for every hire."""
    from .test_dpae_ar import _ar, _drop_and_run, _rows

    port, inbox = smtp_server
    _use_keys(registry, settings, urssaf_keys)
    built = _real(registry, settings, HIRE_1, HIRE_2)
    assert built.errors == 0 and "prête(s) à envoyer" in built.note
    send_batches(registry, _configure(settings, port), "reel")
    [part] = list(inbox.messages[0].iter_attachments())
    received = gnupg.GPG(gnupghome=str(urssaf_keys["test"].home)).decrypt(part.get_content())
    ar = _ar(received.data, [("00", "K7Q2M", "00"), ("00", "", "21")])
    outcome = _drop_and_run(settings, registry, ("\n".join(ar) + "\n").encode("iso-8859-1"))
    assert [(r[2], r[7], r[8], r[9]) for r in _rows(outcome)] == [
        ("MARTINEAU", "enregistree", "K7Q2M", "00"), ("BENALI", "erreur", "", "21")]
    with registry.connect() as conn:
        statuts = conn.execute(select(contrat.c.statut).order_by(contrat.c.id)).scalars().all()
    assert statuts == ["enregistree", "erreur"]
