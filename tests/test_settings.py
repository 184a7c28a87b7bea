from pathlib import Path

import pytest

from gedflow.errors import ConfigError
from gedflow.settings import load_settings


def test_defaults_live_under_the_root(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.root == tmp_path.resolve()
    assert s.registry_url == f"sqlite:///{tmp_path.resolve() / '.gedflow' / 'registry.sqlite'}"
    assert s.prefect_home == tmp_path.resolve() / ".gedflow" / "prefect"
    assert s.processing.parent == s.state_dir


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gedflow.toml").write_text("[gedflow]\nsettle_seconds = 7\nuser = 'alice'\n")
    assert load_settings(tmp_path).settle_seconds == 7.0
    monkeypatch.setenv("GEDFLOW_SETTLE_SECONDS", "0.5")
    monkeypatch.setenv("GEDFLOW_DATABASE_URL", "postgresql+psycopg://h/db")
    s = load_settings(tmp_path)
    assert (s.settle_seconds, s.user, s.registry_url) == (0.5, "alice", "postgresql+psycopg://h/db")


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEDFLOW_ROOT", str(tmp_path))
    assert load_settings().root == tmp_path.resolve()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[gedflow]\nsettle_secnds = 1\n", "unknown setting"),
        ("[gedflow]\nsettle_seconds = 'soon'\n", "not a valid float"),
        ("[gedflow\n", "gedflow.toml"),
        ("[service]\nobservateur = 'poling'\n", "'poling' is not one of inotify, polling"),
        ("[gedflow]\ndpae_mode = 'real'\n", "not one of test, reel"),
        ("[planification]\nsuivi = '0 8 * * *'\n", "unknown setting"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "gedflow.toml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path)
