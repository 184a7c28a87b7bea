"""Every HTML page goes through the autoescaped templates: `<`, `&` and `"` in file names and
values come out as text, never as markup."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from gedflow.dpae.prepare import Preparation
from gedflow.dpae.report import write_reports
from gedflow.dpae.validate import ISSUE_COLUMNS
from gedflow.settings import Settings

from .test_crm import _crm, _p, drop, run
from .test_dpae_ar import _ar, _built, _rows

HOSTILE = 'a<b&"c'
SCRIPT = '<script>alert("&")</script>'


def _assert_escaped(page: str) -> None:
    assert "<script>" not in page and HOSTILE not in page
    assert "&lt;script&gt;" in page or "a&lt;b&amp;&#34;c" in page


def test_crm_page_escapes_file_names_and_messages(seeded: Settings, engine: Engine) -> None:
    anomaly = (f"<declaration_anomalie><description><code>ADR05</code><message>{SCRIPT}"
               .replace("<script>", "&lt;script&gt;").replace("</script>", "&lt;/script&gt;")
               .replace('("&")', '("&amp;")')
               + "</message></description></declaration_anomalie>")
    rel = f"crm_nominatif/travail/2022_09/{HOSTILE}.xml"
    drop(seeded, rel, _crm(_p("2850375112034", "7.50"), anomaly))
    [outcome] = run(seeded, engine)
    assert outcome.outcome == "archived", outcome.reason
    page = (seeded.outbox / f"crm_nominatif/2022_09/{HOSTILE}.rapprochement.html").read_text()
    _assert_escaped(page)
    assert "<title>CRM nominatif 2022_09 — a&lt;b&amp;&#34;c</title>" in page
    assert "&lt;script&gt;alert(&#34;&amp;&#34;)&lt;/script&gt;" in page


def test_compte_rendu_page_escapes_the_file_name(registry: Engine, settings: Settings) -> None:
    from gedflow.dpae.handler import handle_ar
    from gedflow.inbox import scan
    from gedflow.intake import claim, process

    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "", "21")])
    (settings.inbox / "AR").mkdir(parents=True, exist_ok=True)
    (settings.inbox / f"AR/{HOSTILE}.txt").write_bytes(("\n".join(ar) + "\n").encode("latin-1"))
    [outcome] = [process(settings, registry, c, handle_ar)
                 for p in scan(settings) if (c := claim(settings, registry, p))]
    assert outcome.outcome == "archived", outcome.reason
    assert len(_rows(outcome)) == 2
    page = (outcome.report_path.parent / "compte_rendu.html").read_text(encoding="utf-8")
    _assert_escaped(page)
    assert "<h1>Compte rendu de validation DPAE — a&lt;b&amp;&#34;c.txt</h1>" in page


def test_preparation_page_escapes_names_notes_and_cells(tmp_path: Path) -> None:
    issues = pd.DataFrame([{"ligne": "2", "siret": "12345678200010", "matricule": HOSTILE,
                            "nom": SCRIPT, "champ": "nom", "code": "CARACTERES",
                            "gravite": "erreur", "message": "caractère < interdit"}],
                          columns=ISSUE_COLUMNS)
    result = Preparation(hires=pd.DataFrame({"x": [1]}), issues=issues, folder=tmp_path,
                         files={f"{HOSTILE}.txt": tmp_path / "x"}, note=f"note {SCRIPT}")
    _csv, page_path = write_reports(result, f"Préparation {HOSTILE}")
    page = page_path.read_text(encoding="utf-8")
    _assert_escaped(page)
    assert "<li>a&lt;b&amp;&#34;c.txt</li>" in page
    assert "<td>&lt;script&gt;alert(&#34;&amp;&#34;)&lt;/script&gt;</td>" in page
    assert "<title>Préparation a&lt;b&amp;&#34;c</title>" in page
