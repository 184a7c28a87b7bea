from pathlib import Path

import pytest

from gedflow.errors import ConfigError
from gedflow.settings import Settings, load_settings


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


def test_every_setting_is_documented_with_its_default() -> None:
    """docs/configuration.md lists each field of `Settings` under its section, with the
    default the code has."""
    import re
    from dataclasses import MISSING, fields

    from gedflow.settings import SECTIONS

    page = (Path(__file__).resolve().parent.parent / "docs/configuration.md").read_text()
    documented, section = {}, ""
    for line in page.splitlines():
        if found := re.fullmatch(r"## \[(\w+)\]", line):
            section = found[1]
        elif found := re.match(r"\| `(\w+)` \| ([^|]+) \|", line):
            documented[SECTIONS[section] + found[1]] = found[2].strip()
    expected = {}
    for f in fields(Settings):
        if f.name == "root":
            continue
        default = "$USER" if f.name == "user" else f.default
        assert default is not MISSING, f.name
        text = str(default).lower() if isinstance(default, bool) else str(default)
        expected[f.name] = f"`{text}`" if text else "(empty)"
    assert documented == expected
