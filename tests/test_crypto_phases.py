"""OpenPGP encryption with the real gpg (throwaway keys), key errors, and the DPAE test phases
driven by ARs."""

from datetime import UTC, datetime, timedelta

import gnupg
import pytest
from sqlalchemy import Engine, select, update

from gedflow.crypto import KeyProblem, check_recipient, encrypt_file, import_key, list_keys
from gedflow.db.tables import contrat, dossier
from gedflow.dpae.phases import advance, phase_of
from gedflow.dpae.prepare import Options, hires_from_csv, prepare
from gedflow.settings import Settings

from .dpae_support import HIRE_1, HIRE_2, NOW, csv_of


def _decrypt(key, data: bytes) -> bytes:
    result = gnupg.GPG(gnupghome=str(key.home)).decrypt(data)
    assert result.ok, result.status
    return result.data


def _use_keys(engine: Engine, settings: Settings, keys, phase: str = "etape_4") -> None:
    test = import_key(settings.gnupg_home, keys["test"].public)[0]
    final = import_key(settings.gnupg_home, keys["definitive"].public)[0]
    with engine.begin() as conn:
        conn.execute(update(dossier).where(dossier.c.code == "ATELIERS-DUPRE")
                     .values(cle_test=test, cle_definitive=final, phase=phase))


def _real(engine: Engine, settings: Settings, *hires):
    rows, bad = hires_from_csv(csv_of(*hires))
    return prepare(engine, rows, now=NOW, outbox=settings.outbox, root=settings.root,
                   options=Options(mode="reel", gnupg_home=settings.gnupg_home), bad_lines=bad)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_real_batch_is_encrypted_to_the_phase_key(registry: Engine, settings: Settings,
                                                  urssaf_keys) -> None:
    _use_keys(registry, settings, urssaf_keys, phase="etape_4")
    result = _real(registry, settings, HIRE_1, HIRE_2)
    plain = result.files["dpae.txt"].read_bytes()
    sealed = result.files["dpae.txt.gpg"]
    assert (sealed.stat().st_mode & 0o777) == 0o600 and plain[72:75] == b"TST"
    assert _decrypt(urssaf_keys["test"], sealed.read_bytes()) == plain
    assert (settings.gnupg_home.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_production_uses_the_definitive_key(registry: Engine, settings: Settings,
                                            urssaf_keys) -> None:
    _use_keys(registry, settings, urssaf_keys, phase="production")
    result = _real(registry, settings, HIRE_1)
    sealed = result.files["dpae.txt.gpg"].read_bytes()
    assert _decrypt(urssaf_keys["definitive"], sealed) == result.files["dpae.txt"].read_bytes()
    assert result.files["dpae.txt"].read_bytes()[72:75] == b"120"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("problem", ["none", "missing", "expired"])
def test_key_problems_build_and_send_nothing(registry: Engine, settings: Settings, urssaf_keys,
                                            problem: str) -> None:
    if problem != "none":
        fingerprint = urssaf_keys["short"].fingerprint
        if problem == "expired":
            import_key(settings.gnupg_home, urssaf_keys["short"].public)
        with registry.begin() as conn:
            conn.execute(update(dossier).values(cle_test=fingerprint, cle_definitive=fingerprint))
    if problem == "expired":  # the 1-day key, seen from 3 days later
        with pytest.raises(KeyProblem, match="expirée"):
            check_recipient(settings.gnupg_home, urssaf_keys["short"].fingerprint,
                            datetime.now(UTC) + timedelta(days=3))
        return
    result = _real(registry, settings, HIRE_1)
    assert result.built == 0 and result.files == {}
    assert {"none": "aucune clé de chiffrement", "missing": "absente du trousseau"}[problem] \
        in result.note
    with registry.connect() as conn:
        assert conn.execute(select(contrat.c.statut)).scalars().all() == ["a_declarer"]


def test_key_import_refuses_private_and_junk(tmp_path, urssaf_keys) -> None:
    home = tmp_path / "gnupg"
    with pytest.raises(KeyProblem, match="aucune clé"):
        import_key(home, b"not a key")
    with pytest.raises(KeyProblem, match="clé privée"):
        import_key(home, b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n...")
    assert import_key(home, urssaf_keys["test"].public) == [urssaf_keys["test"].fingerprint]
    [info] = list_keys(home)
    assert info.expires is None and not info.revoked and "URSSAF test" in info.uids[0]


def test_encrypt_file_directly(tmp_path, urssaf_keys) -> None:
    home = tmp_path / "gnupg"
    import_key(home, urssaf_keys["test"].public)
    source = tmp_path / "dpae.txt"
    source.write_bytes(b"X" * 10_000)
    target = encrypt_file(home, urssaf_keys["test"].fingerprint, source, tmp_path / "d.gpg")
    assert _decrypt(urssaf_keys["test"], target.read_bytes()) == source.read_bytes()
    with pytest.raises(KeyProblem):
        encrypt_file(home, "0" * 40, source, tmp_path / "e.gpg")
    assert not (tmp_path / "e.gpg").exists()


def test_phase_transitions(registry: Engine, settings: Settings, urssaf_keys) -> None:
    with registry.begin() as conn:
        conn.execute(update(dossier).where(dossier.c.code == "ATELIERS-DUPRE")
                     .values(phase="etape_4", cle_test="A" * 40))
        code = "ATELIERS-DUPRE"
        assert "non validée" in advance(conn, code, "21")
        assert phase_of(conn, code).phase == "etape_4"
        assert "passage à etape_5" in advance(conn, code, "00")
        assert "passage à etape_6" in advance(conn, code, "00")
        assert "clé définitive n'est pas importée" in advance(conn, code, "00")
        assert phase_of(conn, code).phase == "etape_6"
        conn.execute(update(dossier).where(dossier.c.code == code).values(cle_definitive="B" * 40))
        assert "passage à production" in advance(conn, code, "00")
        assert phase_of(conn, code).key == "B" * 40
        assert advance(conn, code, "00") == ""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_revoked_key_builds_and_sends_nothing(registry: Engine, settings: Settings,
                                               tmp_path) -> None:
    from .conftest import _new_key, kill_gpg_agent

    key = _new_key(tmp_path / "revoked", "URSSAF revoked")
    try:
        fingerprint = import_key(settings.gnupg_home, key.public)[0]
        # GnuPG keeps a revocation certificate for each key it generates; URSSAF publishes it.
        certificate = (key.home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
        gnupg.GPG(gnupghome=str(settings.gnupg_home)).import_keys(
            certificate.replace(":-----BEGIN", "-----BEGIN"))
        with pytest.raises(KeyProblem, match="révoquée"):
            check_recipient(settings.gnupg_home, fingerprint)
        with registry.begin() as conn:
            conn.execute(update(dossier).values(cle_test=fingerprint, cle_definitive=fingerprint))
        result = _real(registry, settings, HIRE_1)
        assert result.built == 0 and "révoquée" in result.note
    finally:
        kill_gpg_agent(key.home)
