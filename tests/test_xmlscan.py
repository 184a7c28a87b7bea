"""The CRM reader's two paths agree: the numpy scan of the raw bytes (`xmlscan`) gives exactly
the tables of the XML tree path, and hands over to the tree path whenever a file strays from
the plain shape it relies on."""

import tempfile
from pathlib import Path
from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gedflow.errors import InputError
from gedflow.formats import crm as crm_format
from gedflow.formats import xmlscan

SIRETS = ["81234567600017", "42198765200029"]
# Text with what XML escapes (& < > " ') and white space to normalise, around letters.
text = st.text(st.sampled_from(list("ab Zé&<>\"'\t\n -")), max_size=10)
PERSON = {
    "nir": st.sampled_from(["1790275123045", "279022A123045", ""]),
    "ntt": text, "matricule": text, "nom": text, "prenoms": text,
    "taux": st.sampled_from(["", "0.00", "7.50", "43.00"]),
    "futur_taux": st.sampled_from(["", "1.20"]), "futur_date_effet": st.just(""),
}
ANOMALY = {
    "code": st.sampled_from(["A1", "SIG-1"]), "categorie": text, "message": text,
    "nir": st.sampled_from(["1790275123045", ""]), "matricule": text,
}


def _crm(declarations: list[tuple[list[dict], list[dict]]]) -> crm_format.Crm:
    decls, people, anomalies = [], [], []
    for i, (members, problems) in enumerate(declarations, start=1):
        siret = SIRETS[i % 2]
        decls.append({"decl": i, "siren": siret[:9], "nic": siret[9:], "periode": "2022-07-01"})
        people += [{"decl": i, **p} for p in members]
        anomalies += [{"decl": i, **a} for a in problems]
    return crm_format.Crm(
        kind="nominatif", attributes={"identifiant": "42", "type": "CRM nominatif"},
        declarations=pd.DataFrame(decls),
        salaries=pd.DataFrame(people, columns=["decl", *PERSON]),
        anomalies=pd.DataFrame(anomalies, columns=["decl", *ANOMALY]),
    )


def _both_paths(raw: bytes) -> tuple[dict | None, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.xml"
        path.write_bytes(raw)
        return crm_format._scanned(path), crm_format._from_tree(path)


def _same(scanned: dict | None, tree: dict) -> None:
    assert scanned is not None, "the plain shape should be scanned"
    for record in crm_format.RECORDS:
        pd.testing.assert_frame_equal(scanned[record], tree[record], check_dtype=False)


def _written(crm: crm_format.Crm) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.xml"
        crm_format.write(crm, path)
        return path.read_bytes()


declarations = st.lists(
    st.tuples(st.lists(st.fixed_dictionaries(PERSON), max_size=5),
              st.lists(st.fixed_dictionaries(ANOMALY), max_size=2)),
    min_size=1, max_size=3)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations, st.booleans(), st.sampled_from([16, 300, xmlscan.BLOCK]))
def test_scan_gives_the_tree_tables(decls: list, pretty: bool, block: int) -> None:
    """Also when the file is scanned in blocks smaller than a declaration."""
    raw = _written(_crm(decls))
    if pretty:  # indented, as a person saving it from a browser would get it
        raw = etree.tostring(etree.fromstring(raw), pretty_print=True, xml_declaration=True,
                             encoding="UTF-8")
    with patch.object(xmlscan, "BLOCK", block):
        _same(*_both_paths(raw))


ROOT = b'<gipmds:rapport xmlns:gipmds="http://www.gip-mds.fr/" type="CRM nominatif">'
IDENT = (b"<declaration_identification><mois>01072022</mois><SIREN>812345676</SIREN>"
         b"<nic_affectation>00017</nic_affectation></declaration_identification>")


def _file(salarie: bytes, root: bytes = ROOT, head: bytes = b"<?xml version='1.0'?>") -> bytes:
    return (head + root + b"<declaration>" + IDENT + b"<declaration_bilan><salarie>" + salarie
            + b"</salarie></declaration_bilan></declaration></gipmds:rapport>")


@pytest.mark.parametrize(("salarie", "expected"), [
    (b"<NIR>1790275123045</NIR><matricule>  A &amp; B\n C </matricule><nom_famille/>"
     b"<taux_imposition_PAS></taux_imposition_PAS><NIR>2</NIR>",
     {"nir": "1790275123045", "matricule": "A & B C", "nom": "", "taux": ""}),
    (b'<NIR type="x">1790275123045</NIR><nom_famille\n a="1" b=\'2/\' /><prenoms a="&amp;">'
     b'Jo</prenoms><matricule>xmlns="urn:x"</matricule>',
     {"nir": "1790275123045", "nom": "", "prenoms": "Jo", "matricule": 'xmlns="urn:x"'}),
], ids=["entities-whitespace-empty-first-wins", "attributes"])
def test_plain_shapes_are_scanned(salarie: bytes, expected: dict[str, str]) -> None:
    """normalize-space, entities, empty elements, the first of two NIR; attributes read past."""
    scanned, tree = _both_paths(_file(salarie))
    _same(scanned, tree)
    row = scanned[crm_format.SALARIE].iloc[0]
    assert {column: row[column] for column in expected} == expected


@pytest.mark.parametrize("raw", [
    _file(b"<NIR>1790275123045</NIR><!-- note --><matricule>7</matricule>"),
    _file(b"<NIR>1790275123045</NIR><nom_famille><![CDATA[O'Neil]]></nom_famille>"),
    _file(b"<NIR>1790275123045</NIR><nom_famille>Andr&#233;</nom_famille>"),
    _file(b"<NIR>1790275123045</NIR><nom_famille>a > b</nom_famille>"),
    _file(b"<NIR>1790275123045</NIR><nom_famille>A<b>B</b></nom_famille>"),
    _file(b"<NIR>1790275123045</NIR>", root=ROOT.replace(b" type", b' xmlns="urn:x" type')),
    _file(b'<NIR>1790275123045</NIR><nom_famille xmlns = "urn:x">A</nom_famille>'),
    _file(b"<NIR>1790275123045</NIR><nom_famille>Andr\xe9</nom_famille>",
          head=b"<?xml version='1.0' encoding='ISO-8859-1'?>"),
    _file(b"<NIR>1790275123045</NIR><?pi x?>"),
], ids=["comment", "cdata", "char-ref", "gt-in-text", "mixed-content", "default-namespace",
        "inner-default-namespace", "latin-1", "processing-instruction"])
def test_other_shapes_take_the_tree_path(raw: bytes) -> None:
    scanned, tree = _both_paths(raw)
    assert scanned is None
    # Under a default namespace the elements are not the GIP-MDS ones: the tree finds none.
    namespaced = b' xmlns="urn:x" type' in raw
    assert tree[crm_format.SALARIE]["nir"].tolist() == ([] if namespaced else ["1790275123045"])


def test_a_declaration_below_another_takes_the_tree_path() -> None:
    scanned, tree = _both_paths(_file(b"<NIR>1</NIR><declaration><NIR>2</NIR></declaration>"))
    assert scanned is None
    assert len(tree[crm_format.DECLARATION]) == 2  # iterparse counts both


def test_a_text_beyond_the_parser_limit_is_refused_as_by_the_tree() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.xml"
        path.write_bytes(_file(b"<NIR>1790275123045</NIR><nom_famille>" + b"a" * 10_000_001
                               + b"</nom_famille>"))
        assert crm_format._scanned(path) is None
        with pytest.raises(InputError, match="mal formé|tronqué"):
            crm_format.read(path)


def test_a_cut_inside_a_comment_still_takes_the_tree_path() -> None:
    raw = _file(b"<NIR>1790275123045</NIR><!-- </declaration> --><matricule>7</matricule>")
    with patch.object(xmlscan, "BLOCK", 16):
        scanned, tree = _both_paths(raw)
    assert scanned is None and tree[crm_format.SALARIE]["matricule"].tolist() == ["7"]
