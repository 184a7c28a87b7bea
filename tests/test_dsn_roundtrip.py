"""Property: a DSN written from random people (tests/dsn_support.py, the rubric codes of
schemas.dsn) and read back gives the same people, contracts and versements."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gedflow.dsn.read import view
from gedflow.formats import dsn as dsn_format

from .dsn_support import Person, declaration, dsn_bytes, envoi

nir13 = st.builds(lambda sex, rest, dept, tail: f"{sex}{rest}{dept}{tail}",
                  st.sampled_from("12"), st.text("0123456789", min_size=4, max_size=4),
                  st.sampled_from(["75", "2A", "2B", "99", "01"]),
                  st.text("0123456789", min_size=6, max_size=6))
name = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZÉÈÇ' -"), min_size=1, max_size=20
               ).map(str.strip).filter(bool)
day = st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%d%m%Y"))
amount = st.integers(0, 10**7).map(lambda c: f"{c // 100}.{c % 100:02d}")
versement = st.fixed_dictionaries({
    "date_versement": day, "remuneration_nette_fiscale": amount,
    "taux": st.integers(0, 9999).map(lambda c: f"{c // 100}.{c % 100:02d}"),
    "type_taux": st.sampled_from(["01", "13", "17"]), "montant_pas": amount,
    "montant_soumis": amount})
contract = st.fixed_dictionaries({"date_debut": day, "nature": st.sampled_from(["01", "02"]),
                                  "numero": st.text("0123456789", min_size=5, max_size=5)})
person = st.builds(
    Person, nir=nir13, nom=name, prenoms=name,
    matricule=st.text("ABC0123456789", min_size=1, max_size=8),
    contrats=st.lists(contract, min_size=1, max_size=2),
    versements=st.lists(versement, min_size=1, max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(person, min_size=1, max_size=5), min_size=1, max_size=3),
       st.sampled_from(["\n", "\r\n"]))
def test_write_then_read_gives_the_same_people(groups: list[list[Person]], newline: str) -> None:
    sirets = [("812345676", "00017"), ("421987652", "00029"), ("356000000", "00048")]
    lines = envoi(*(declaration(people, siren=sirets[i][0], nic=sirets[i][1])
                    for i, people in enumerate(groups)))
    read = dsn_format.read(dsn_bytes(lines, newline=newline))
    assert read.problems.empty, read.problems
    seen = view(read)
    everyone = [p for people in groups for p in people]
    got = seen.individus[["nir", "nom", "prenoms", "matricule"]].values.tolist()
    assert got == [[p.nir.upper(), p.nom, p.prenoms, p.matricule] for p in everyone]
    assert seen.contrats[["numero", "nature"]].values.tolist() == [
        [c["numero"], c["nature"]] for p in everyone for c in p.contrats]
    assert seen.versements[["taux", "montant_pas", "type_taux"]].values.tolist() == [
        [v["taux"], v["montant_pas"], v["type_taux"]] for p in everyone for v in p.versements]
    assert seen.declarations["siret"].tolist() == [s + n for s, n in sirets[:len(groups)]]
