"""DPAE AR reception and the compte rendu de validation: the spec's example (§8), every AR defect,
and the registry's contrats taking their statut."""

import pytest
from sqlalchemy import Engine, select, update

from gedflow.db.tables import contrat, dossier
from gedflow.dpae.handler import handle_ar
from gedflow.inbox import Outcome, scan
from gedflow.intake import claim, process
from gedflow.settings import Settings

from .dpae_support import HIRE_1, HIRE_2, run
from .golden import assert_golden


def _ar(dpae_txt: bytes, answers: list[tuple[str, str, str]]) -> list[str]:
    """The URSSAF's AR: each record returned with (lot code, dossier, return code) filled."""
    lines = dpae_txt.decode("iso-8859-1").splitlines()
    out = []
    for line, (lot, number, code) in zip(lines, answers, strict=True):
        out.append(line[:75] + lot.ljust(2) + line[77:424] + number.ljust(5) + code.ljust(2)
                   + line[431:])
    return out


def _built(registry: Engine, settings: Settings) -> bytes:
    result = run(registry, settings, HIRE_1, HIRE_2, mode="reel", fmt="flat")
    return result.files["dpae.txt"].read_bytes()


def _drop_and_run(settings: Settings, engine: Engine, raw: bytes) -> Outcome:
    (settings.inbox / "AR").mkdir(parents=True, exist_ok=True)
    (settings.inbox / "AR/dpae.txt").write_bytes(raw)
    [outcome] = [process(settings, engine, c, handle_ar)
                 for p in scan(settings) if (c := claim(settings, engine, p))]
    return outcome


def _rows(outcome: Outcome) -> list[list[str]]:
    lines = outcome.report_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ("siret;matricule;nom;prenoms;date_embauche;heure_embauche;nature_contrat;"
                        "statut;numero_dossier;code_retour;message")
    return [line.split(";")[:10] for line in lines[1:]]


def test_spec_example_compte_rendu(registry: Engine, settings: Settings) -> None:
    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "", "21")])
    outcome = _drop_and_run(settings, registry, ("\n".join(ar) + "\n").encode("iso-8859-1"))
    assert outcome.outcome == "archived", outcome.reason
    assert _rows(outcome) == [
        ["12345678200010", "E001", "MARTINEAU", "CLAIRE ANNE", "10/03/2025", "08:30", "CDI",
         "enregistree", "K7Q2M", "00"],
        ["12345678200010", "E002", "BENALI", "KARIM", "10/03/2025", "14:00", "CDD", "erreur",
         "", "21"],
    ]
    assert_golden(outcome.report_path.read_bytes(), "dpae/spec_example.compte_rendu.csv")
    assert_golden((outcome.report_path.parent / "compte_rendu.txt").read_bytes(),
                  "dpae/spec_example.compte_rendu.txt")
    text = (outcome.report_path.parent / "compte_rendu.txt").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("COMPTE RENDU DE VALIDATION DPAE - fichier dpae.txt du "
                                           "03/03/2025 10:15 - SIRET 12345678200010")
    assert "LOT  code retour lot 00" in text and "ENREGISTREE dossier K7Q2M" in text
    assert "ERREUR      code 21" in text
    assert text.splitlines()[-1] == ("TOTAL 2 déclarations : 1 enregistrée(s), 1 en erreur, "
                                     "0 sans retour, 0 inconnue(s)")
    with registry.connect() as conn:
        rows = conn.execute(select(contrat.c.statut, contrat.c.numero_dossier,
                                   contrat.c.code_retour).order_by(contrat.c.id)).all()
    assert [tuple(r) for r in rows] == [("enregistree", "K7Q2M", "00"), ("erreur", "", "21")]


@pytest.mark.parametrize(
    ("transform", "encoding"),
    [
        (lambda lines: [x.rstrip() for x in lines], "iso-8859-1"),  # mailer stripped blanks
        (lambda lines: lines, "utf-8"),
    ],
)
def test_lenient_reading(registry: Engine, settings: Settings, transform, encoding) -> None:
    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "A1B2C", "98")])
    raw = ("\r\n".join(transform(ar)) + "\r\n").encode(encoding)
    outcome = _drop_and_run(settings, registry, raw)
    assert [r[7] for r in _rows(outcome)] == ["enregistree", "enregistree_a_verifier"]


def test_matching_without_our_id_and_unknown_records(registry: Engine, settings: Settings):
    """Uploaded by hand: LIBRE blanked. An extra record matches nothing we built."""
    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "Z9Z9Z", "00")])
    blanked = [line[:77] + " " * 44 + line[121:] for line in ar]
    stranger = blanked[1][:283] + "INCONNU".ljust(32) + blanked[1][315:]
    stranger = stranger[:347] + "1991299352012" + stranger[360:]
    outcome = _drop_and_run(settings, registry,
                            ("\n".join([*blanked, stranger]) + "\n").encode("iso-8859-1"))
    assert [(r[2], r[7]) for r in _rows(outcome)] == [
        ("MARTINEAU", "enregistree"), ("BENALI", "enregistree"), ("INCONNU", "inconnue")]


def test_a_record_missing_from_the_ar_is_sans_retour(registry: Engine, settings: Settings):
    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "", "")])
    outcome = _drop_and_run(settings, registry, (ar[0] + "\n").encode("iso-8859-1"))
    assert [(r[2], r[7]) for r in _rows(outcome)] == [("MARTINEAU", "enregistree"),
                                                      ("BENALI", "sans_retour")]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "vide"),
        (b"\n\n", "vide"),
        (b"siret;matricule\n1;2\n", "pas_ar"),
        (b"%PDF-1.4 binary", "pas_ar"),
    ],
)
def test_bad_ars_are_quarantined(registry: Engine, settings: Settings, raw: bytes, code: str):
    outcome = _drop_and_run(settings, registry, raw)
    assert outcome.outcome == "quarantined"
    reason = (settings.quarantine / "AR/dpae.txt.reason.txt").read_text()
    assert f"Code : {code}" in reason and "Que faire" in reason


def test_an_ar_with_lot_code_00_validates_the_test_phase(registry: Engine, settings: Settings):
    with registry.begin() as conn:
        conn.execute(update(dossier).where(dossier.c.code == "ATELIERS-DUPRE")
                     .values(phase="etape_4"))
    ar = _ar(_built(registry, settings), [("00", "K7Q2M", "00"), ("00", "K7Q2N", "00")])
    outcome = _drop_and_run(settings, registry, ("\n".join(ar) + "\n").encode("iso-8859-1"))
    text = (outcome.report_path.parent / "compte_rendu.txt").read_text(encoding="utf-8")
    assert "PHASE ATELIERS-DUPRE : etape_4 validée, passage à etape_5" in text
    with registry.connect() as conn:
        assert conn.execute(select(dossier.c.phase).where(
            dossier.c.code == "ATELIERS-DUPRE")).scalar() == "etape_5"


def test_id_lists_are_cut_for_in_clauses() -> None:
    from gedflow.db.bulk import chunked

    parts = chunked(list(range(70_001)))
    assert [len(p) for p in parts] == [30_000, 30_000, 10_001] and chunked([]) == [[]]
