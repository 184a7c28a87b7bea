"""The session-end leak scan finds what is planted, wherever it is planted, and fails the run."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest

from .api_server import PASSWORD
from .leaks import known_nirs, leaks, scan, secrets

REPO = Path(__file__).resolve().parent.parent


def test_the_scan_finds_a_planted_secret() -> None:
    assert len(known_nirs()) >= 10
    assert leaks(f"INFO jeton pour {PASSWORD}", secrets()) == [PASSWORD]
    with tempfile.TemporaryDirectory() as tmp:  # not under the session's own folders
        base = Path(tmp)
        (base / "x").mkdir()
        (base / "x/serveur.log").write_text("salarié 285037511203464\n")
        found = scan(["salarié 1790169123045 sans taux"], [f"artifact {PASSWORD}"], base)
        assert scan(["rien", "17901*"], [], base / "absent") == {}
    assert found == {"python logs": ["1790169123045"], "prefect (harness)": [PASSWORD],
                     "x/serveur.log": ["2850375112034", "285037511203464"]}


def test_a_session_that_leaks_fails(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("GEDFLOW_SKIP_POSTGRES", "1")
    pytester.makeconftest("from tests.conftest import _log_everything, pytest_sessionfinish\n")
    pytester.makepyfile(test_inner=textwrap.dedent("""
        import logging

        def test_logs_a_nir():
            logging.getLogger("gedflow.x").info("salarié 1790169123045")
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fuite de données personnelles*python logs*1790169123045*"])
