"""The controls of a DSN against the registry, one knock-out per code: a DSN that passes every
control, then one fact changed at a time (the DSN's or the registry's). Pure functions: the
registry is given as frames; the database side is in test_dsn_controle_flow.py."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gedflow.checks import nir_numbers
from gedflow.dsn.controle import _people, controle_embauches, controle_pas, rate_in_force
from gedflow.dsn.read import view
from gedflow.dsn.registre import Registre
from gedflow.formats import dsn as dsn_format
from schemas.dsn import CONTROLE_PAS_COLUMNS, CONTROLS, EMBAUCHE_COLUMNS

from .dsn_support import Person, declaration, dsn_bytes, envoi

NIR, SIRET, CRM_ID = "1850775056123", "81234567600017", "900000000000001234"
HIRED = "02032026"  # in the declared month (March 2026)


def _versement(**changes: str) -> dict:
    return {"date_versement": "31032026", "remuneration_nette_fiscale": "1000.00",
            "taux": "7.50", "type_taux": "01", "identifiant_taux": CRM_ID,
            "montant_pas": "75.00", "montant_soumis": "1000.00", **changes}


def _person(contrat: dict | None = None, **versement: str) -> Person:
    return Person(nir=NIR, matricule="A001", versements=[_versement(**versement)],
                  contrats=[contrat or {"date_debut": "01092019", "nature": "01",
                                        "numero": "00001"}])


def _view(people: list[Person], pas_total: str | None = "75.00", mode: str = "05",
          organisme: str = "DGFIP"):
    lines = envoi(declaration(people, pas_total=pas_total))
    lines = [line.replace("S21.G00.20.010,'05'", f"S21.G00.20.010,'{mode}'")
             .replace("S21.G00.20.001,'DGFIP'", f"S21.G00.20.001,'{organisme}'")
             for line in lines]
    return view(dsn_format.read(dsn_bytes(lines)))


def _keys(nirs: list[str]) -> list[int]:
    """The registry's NIR keys (`checks.nir_numbers`), as `gedflow.dsn.registre` gives them."""
    return nir_numbers(pa.array(nirs, pa.large_string())).tolist()


def _rate(taux: str | None = "7.50", disponible: str = "2026-02-10",
          jusqu: str = "2026-04-30", effet: str = "", identifiant: str = CRM_ID,
          id_: int = 1) -> dict:
    return {"id": id_, "salarie_id": 1, "identifiant_crm": identifiant, "taux": taux,
            "date_disponibilite": disponible, "date_effet": effet, "valide_jusqu_au": jusqu}


def _registre(rates: list[dict] | None = None, dpae: list[dict] | None = None,
              nir: str = NIR) -> Registre:
    salaries = pd.DataFrame({"salarie_id": [1], "siret": [SIRET], "matricule": ["A001"],
                             "nir": [nir], "nom": ["MARTIN"], "date_naissance": ["1985-07-12"],
                             "nir13": [nir[:13]], "nir_cle": _keys([nir])})
    rate_columns = ["id", "salarie_id", "identifiant_crm", "taux", "date_disponibilite",
                    "date_effet", "valide_jusqu_au"]
    dpae_columns = ["salarie_id", "date_embauche", "heure_embauche", "statut", "code_retour",
                    "certificat", "envoye_at"]
    return Registre(salaries,
                    pd.DataFrame([_rate()] if rates is None else rates, columns=rate_columns),
                    pd.DataFrame(dpae or [], columns=dpae_columns))


def _codes(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(rows["code"], rows["gravite"], strict=True))


def test_a_dsn_that_follows_its_crm_is_conforme() -> None:
    rows = controle_pas(_view([_person()]), _registre())
    assert list(rows.columns) == CONTROLE_PAS_COLUMNS
    assert _codes(rows) == [("CONFORME", "info")]
    [row] = rows.to_dict("records")
    assert (row["nir_masque"], row["taux_crm"], row["identifiant_crm"], row["valide_jusqu_au"],
            row["montant_attendu"], row["date_versement"]) == (
        "18507*", "7.50", CRM_ID, "2026-04-30", "75.00", "2026-03-31")


@pytest.mark.parametrize(("changes", "rates", "expected"), [
    ({"taux": "8.00", "montant_pas": "80.00"}, None, [("TAUX_DIFFERENT", "erreur")]),
    ({"identifiant_taux": "900000000000009999"}, None, [("IDENTIFIANT_DIFFERENT", "erreur")]),
    ({"identifiant_taux": "-1"}, None, [("IDENTIFIANT_DIFFERENT", "erreur")]),  # a CDI
    ({"identifiant_taux": ""}, None, [("IDENTIFIANT_MANQUANT", "erreur")]),
    ({"type_taux": "13", "taux": "0.00", "montant_pas": "0.00"}, [],
     [("IDENTIFIANT_INTERDIT", "erreur")]),
    ({}, [_rate(jusqu="2026-02-28")], [("TAUX_EXPIRE", "erreur")]),
    ({"type_taux": "13", "identifiant_taux": "", "taux": "0.00", "montant_pas": "0.00"}, None,
     [("BAREME_AU_LIEU_DU_TAUX", "erreur")]),
    ({}, [], [("TAUX_SANS_CRM", "avertissement")]),
    ({}, [_rate(disponible="2026-04-10", jusqu="2026-06-30")],  # not yet available
     [("TAUX_SANS_CRM", "avertissement")]),
    ({"montant_pas": "75.05"}, None, [("MONTANT_PAS", "avertissement")]),
    ({"montant_pas": "76.01"}, None, [("MONTANT_PAS", "erreur")]),
])
def test_each_pas_code(changes: dict, rates: list | None, expected: list) -> None:
    total = changes.get("montant_pas", "75.00")
    rows = controle_pas(_view([_person(**changes)], pas_total=f"{round(float(total)):.2f}"),
                        _registre(rates))
    assert _codes(rows) == expected, rows[["code", "message"]]
    assert set(rows["message"]) == {CONTROLS[c][1] for c, _g in expected}


def test_minus_one_is_accepted_for_a_short_cdd_only() -> None:
    short = {"date_debut": "01032026", "nature": "02", "numero": "C1", "fin_prevue": "30042026"}
    long = {**short, "fin_prevue": "31072026"}
    assert _codes(controle_pas(_view([_person(short, identifiant_taux="-1")]), _registre())) \
        == [("CONFORME", "info")]
    assert _codes(controle_pas(_view([_person(long, identifiant_taux="-1")]), _registre())) \
        == [("IDENTIFIANT_DIFFERENT", "erreur")]


def test_the_rate_in_force_is_the_latest_available_one_including_a_future_rate() -> None:
    rates = [_rate(taux="6.00", disponible="2026-01-10", jusqu="2026-03-31", identifiant="A",
                   id_=1),
             _rate(taux="7.50", disponible="2026-02-10", identifiant=CRM_ID, id_=2),
             _rate(taux="9.00", disponible="2026-02-10", effet="2026-04-01", identifiant=CRM_ID,
                   id_=3)]
    assert _codes(controle_pas(_view([_person()]), _registre(rates))) == [("CONFORME", "info")]
    rates[2]["date_effet"] = "2026-03-15"  # the future rate is in force on the 31st
    rows = controle_pas(_view([_person()]), _registre(rates))
    assert _codes(rows) == [("TAUX_DIFFERENT", "erreur")]
    assert rows["taux_crm"].tolist() == ["9.00"]


def _day(offset: int | None) -> str:
    return "" if offset is None else (date(2026, 1, 1) + timedelta(offset)).isoformat()


def _in_force_by_definition(person: int, on: str, rates: list[dict]) -> str:
    """The plain rule: among the salarié's rates available on `on` and in effect by then, the
    last by availability, then effect (the date d'effet, else the availability), then id."""
    usable = [r for r in rates if r["salarie_id"] == person and on
              and r["date_disponibilite"] <= on and r["date_effet"] <= on]
    latest = max(usable, key=lambda r: (r["date_disponibilite"],
                                        r["date_effet"] or r["date_disponibilite"], r["id"]),
                 default=None)
    return "" if latest is None else latest["taux"]


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 60),
                          st.one_of(st.none(), st.integers(0, 90))), max_size=12),
       st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 90))),
                max_size=12))
def test_the_rate_in_force_follows_its_definition(rates: list, versements: list) -> None:
    rows = [{"id": i + 1, "salarie_id": person, "identifiant_crm": f"CRM{i}",
             "taux": f"{i}.00", "date_disponibilite": _day(available), "date_effet": _day(effet),
             "valide_jusqu_au": "2026-12-31"}
            for i, (person, available, effet) in enumerate(rates)]
    frame = pd.DataFrame(rows, columns=["id", "salarie_id", "identifiant_crm", "taux",
                                        "date_disponibilite", "date_effet", "valide_jusqu_au"])
    asked = pd.DataFrame({"_row": range(len(versements)),
                          "salarie_id": [p for p, _on in versements],
                          "date_versement": [_day(on) for _p, on in versements]})
    found = rate_in_force(asked, frame)
    assert found["taux"].tolist() == [_in_force_by_definition(p, _day(on), rows)
                                      for p, on in versements]
    assert found["known"].tolist() == [t != "" for t in found["taux"]]


def test_the_crm_giving_no_rate_wants_the_bareme() -> None:
    rows = controle_pas(_view([_person()]), _registre([_rate(taux=None)]))
    assert _codes(rows) == [("TAUX_DIFFERENT", "erreur")]
    bareme = _person(type_taux="13", identifiant_taux="", taux="0.00", montant_pas="0.00")
    assert _codes(controle_pas(_view([bareme], pas_total=None), _registre([_rate(taux=None)]))) \
        == [("CONFORME", "info")]


def test_pas_amount_is_rounded_half_up_to_the_cent() -> None:
    person = _person(montant_soumis="1234.50", montant_pas="92.59")  # 92.5875
    rows = controle_pas(_view([person], pas_total="93.00"), _registre())
    assert _codes(rows) == [("CONFORME", "info")]
    person = _person(montant_soumis="1234.50", montant_pas="92.58")  # 0.01 off: tolerated
    assert _codes(controle_pas(_view([person], pas_total="93.00"), _registre())) == [
        ("CONFORME", "info")]
    person = _person(montant_soumis="1234.50", montant_pas="92.57")
    rows = controle_pas(_view([person], pas_total="93.00"), _registre())
    assert _codes(rows) == [("MONTANT_PAS", "avertissement")]
    assert rows["montant_attendu"].tolist() == ["92.59"]


@pytest.mark.parametrize(("total", "mode", "organisme", "expected"), [
    ("75.00", "05", "DGFiP", [("CONFORME", "info")]),  # compared case-insensitively
    ("74.00", "05", "DGFIP", [("CONFORME", "info"), ("VERSEMENT_DGFIP", "erreur")]),
    ("75.00", "06", "DGFIP", [("CONFORME", "info"), ("VERSEMENT_DGFIP", "erreur")]),
    ("0.00", "06", "DGFIP", [("CONFORME", "info")]),
    (None, "05", "DGFIP", [("CONFORME", "info"), ("VERSEMENT_DGFIP_ABSENT", "erreur")]),
])
def test_each_declaration_code(total: str | None, mode: str, organisme: str,
                               expected: list) -> None:
    rows = controle_pas(_view([_person()], pas_total=total, mode=mode, organisme=organisme),
                        _registre())
    assert _codes(rows) == expected
    declaration_rows = rows[rows["code"].str.startswith("VERSEMENT")]
    assert (declaration_rows["matricule"] == "").all() and (declaration_rows["siret"] == SIRET
                                                            ).all()
    assert rows.iloc[0]["gravite"] == ("erreur" if len(expected) > 1 else "info")  # first


def test_the_dgfip_payment_is_the_sum_rounded_half_up_to_the_euro() -> None:
    people = [_person(montant_pas="75.00"), Person(nir="2921169123045", matricule="A002",
                                                  versements=[_versement(montant_pas="0.50",
                                                                         montant_soumis="6.67")])]
    rows = controle_pas(_view(people, pas_total="76.00"), _registre())  # 75.50 → 76
    assert "VERSEMENT_DGFIP" not in set(rows["code"])
    rows = controle_pas(_view(people, pas_total="75.00"), _registre())
    assert rows.loc[rows["code"] == "VERSEMENT_DGFIP", "montant_attendu"].tolist() == ["76.00"]


# --- hires against DPAE -------------------------------------------------------------------------

def _hired(nature: str = "01", start: str = HIRED) -> Person:
    return _person({"date_debut": start, "nature": nature, "numero": "00002"})


def _dpae(statut: str, code_retour: str = "", certificat: str = "",
          envoye_at: str | None = None, heure: str = "08:00", date: str = "2026-03-02") -> dict:
    return {"salarie_id": 1, "date_embauche": date, "heure_embauche": heure, "statut": statut,
            "code_retour": code_retour, "certificat": certificat, "envoye_at": envoye_at}


@pytest.mark.parametrize(("dpae", "expected"), [
    ([], [("DPAE_MANQUANTE", "erreur")]),
    ([_dpae("a_declarer")], [("DPAE_MANQUANTE", "erreur")]),
    ([_dpae("enregistree")], [("DPAE_CONFIRMEE", "info")]),
    ([_dpae("envoye", code_retour="00")], [("DPAE_CONFIRMEE", "info")]),
    ([_dpae("envoye")], [("DPAE_SANS_AR", "avertissement")]),
    ([_dpae("erreur", code_retour="21")], [("DPAE_REJETEE", "erreur")]),
    ([_dpae("enregistree", envoye_at="2026-03-02 09:30:00+00:00")],  # 10:30 in Paris
     [("DPAE_APRES_EMBAUCHE", "avertissement"), ("DPAE_CONFIRMEE", "info")]),
    ([_dpae("enregistree", envoye_at="2026-03-01 16:00:00+00:00")], [("DPAE_CONFIRMEE", "info")]),
    ([_dpae("enregistree", date="2026-03-03")], [("DPAE_MANQUANTE", "erreur")]),  # other day
    ([_dpae("erreur"), _dpae("enregistree", heure="09:00")], [("DPAE_CONFIRMEE", "info")]),
])
def test_each_hire_code(dpae: list, expected: list) -> None:
    rows = controle_embauches(_view([_hired()]), _registre(dpae=dpae))
    assert list(rows.columns) == EMBAUCHE_COLUMNS
    assert _codes(rows) == expected
    assert set(rows["date_debut"]) == {"2026-03-02"} and set(rows["nir_masque"]) == {"18507*"}


def test_only_hires_of_the_month_and_no_stage() -> None:
    people = [_hired(nature="29"), _hired(start="01022026")]
    assert controle_embauches(_view(people), _registre()).empty


def test_a_hire_with_an_ntt_is_matched_on_name_and_birth_date() -> None:
    person = Person(nir="", ntt="181234567600003", matricule="A003", nom="Martin",
                    date_naissance="12071985",
                    contrats=[{"date_debut": HIRED, "nature": "02", "numero": "C1"}])
    rows = controle_embauches(_view([person]), _registre(dpae=[_dpae("enregistree")]))
    assert _codes(rows) == [("DPAE_CONFIRMEE", "info")]
    assert rows["nir_masque"].tolist() == [""]


def test_individuals_are_found_by_nir_first_then_by_matricule() -> None:
    """A NIR match wins over a matricule; the first salarié of a key in the registry; the
    matricule for an individual without NIR or whose NIR the registry does not know; nothing
    across SIRETs."""
    other_nir, unknown_nir, elsewhere_nir = "2921169123045", "1700101234567", "1690275012345"
    people = [Person(nir=NIR, matricule="M2"), Person(nir="", ntt="181234567600003",
                                                      matricule="M3"),
              Person(nir=unknown_nir, matricule="M3"), Person(nir=elsewhere_nir, matricule="M9"),
              Person(nir=other_nir, matricule="M9")]
    seen = view(dsn_format.read(dsn_bytes(envoi(declaration(people)))))
    salaries = pd.DataFrame({
        "salarie_id": [1, 2, 3, 4, 5], "siret": [SIRET, SIRET, SIRET, "99999999900019", SIRET],
        "matricule": ["M1", "M2", "M3", "M4", "M5"],
        "nir13": [NIR, NIR, "", elsewhere_nir, other_nir],
        "nir_cle": _keys([NIR, NIR, "", elsewhere_nir, other_nir])})
    registre = Registre(salaries, pd.DataFrame(), pd.DataFrame())
    found = _people(seen, registre)
    assert found["salarie_id"].tolist() == [1, 3, 3, -1, 5]
