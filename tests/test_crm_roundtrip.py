"""Property: a CRM generated from random people, written then read, gives the same people and
rates (writer and reader share `schemas.crm`)."""

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gedflow.formats import crm as crm_format

SIRETS = ["81234567600017", "42198765200029", "35600000000048"]
COLUMNS = ["decl", "siret", "nir", "ntt", "matricule", "taux", "futur_taux", "futur_date_effet"]

nir13 = st.builds(
    lambda sex, rest, dept, tail: f"{sex}{rest}{dept}{tail}",
    st.sampled_from("12"), st.text("0123456789", min_size=4, max_size=4),
    st.sampled_from(["75", "2A", "2B", "99", "01"]), st.text("0123456789", min_size=6, max_size=6),
)
word = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0x17F),
               min_size=1, max_size=12)
rate = st.integers(0, 10_000).map(lambda c: f"{c // 100}.{c % 100:02d}")
person = st.fixed_dictionaries({
    "nir": st.one_of(nir13, st.just("")),
    "ntt": word,
    "matricule": st.one_of(word, st.just("")),
    "taux": st.one_of(rate, st.just("")),
    "futur": st.one_of(st.none(), st.tuples(rate, st.dates().map(lambda d: d.isoformat()))),
})


def _crm(declarations: list[list[dict]]) -> crm_format.Crm:
    decls, people = [], []
    for i, members in enumerate(declarations, start=1):
        siret = SIRETS[(i - 1) % len(SIRETS)]
        decls.append({"decl": i, "siren": siret[:9], "nic": siret[9:], "siret": siret,
                      "periode": "2022-07-01", "rang": str(i), "etat": "OK"})
        for p in members:
            people.append({
                "decl": i, "siret": siret, "nir": p["nir"], "ntt": "" if p["nir"] else p["ntt"],
                "matricule": p["matricule"], "taux": p["taux"],
                "futur_taux": p["futur"][0] if p["futur"] else "",
                "futur_date_effet": p["futur"][1] if p["futur"] else "",
            })
    return crm_format.Crm(
        kind="nominatif",
        attributes={"identifiant": "000123", "type": "CRM nominatif", "profil": "DSN"},
        declarations=pd.DataFrame(decls),
        salaries=pd.DataFrame(people, columns=COLUMNS),
        anomalies=pd.DataFrame(columns=["decl", *[f.name for f in crm_format.ANOMALIE.fields]]),
    )


def _unique(members: list[dict]) -> list[dict]:
    seen, kept = set(), []
    for p in members:
        key = p["nir"] or "NTT:" + p["ntt"]
        if key not in seen:
            seen.add(key)
            kept.append(p)
    return kept


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(person, max_size=8).map(_unique), min_size=1, max_size=4))
@example([[{"nir": "179022A123045", "ntt": "x", "matricule": "NA", "taux": "0.00",
            "futur": ("1.20", "2022-09-01")},
           {"nir": "", "ntt": "NTT007", "matricule": "007", "taux": "", "futur": None}]])
def test_write_then_read_gives_the_same_people(declarations: list[list[dict]]) -> None:
    original = _crm(declarations)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.xml"
        crm_format.write(original, path)
        parsed = crm_format.read(path)
    assert parsed.identifiant == "000123" and parsed.kind == "nominatif"
    assert parsed.declarations["siret"].tolist() == original.declarations["siret"].tolist()
    got = parsed.salaries[COLUMNS].astype(str).reset_index(drop=True)
    want = original.salaries[COLUMNS].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)

