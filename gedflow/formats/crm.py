"""CRM nominatif / CRM financier (GIP-MDS `rapport` XML): `read` and, for tests, examples and
benchmarks, `write`. Layout: `schemas.crm` (the GIP-MDS `rapport` of the DGFiP's returns).

Reading checks the file with the hardened parser (no DOCTYPE, no entities, no network; a parse
that builds no tree) while numpy finds the records on the raw bytes (`xmlscan`): no Python object
per element. A file of another shape (comments, CDATA, attributes, character references…) is
read through the tree instead, one `declaration` at a time (memory stays flat), each flattened by
an XSLT generated from the declared fields. Both give the same tables. Every value is text:
identifiers keep their leading zeros, NIR their `2A`/`2B`, and an empty rate stays "no rate",
never 0.00.
"""

from __future__ import annotations

import io
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from lxml import etree

from gedflow.checks import nir_checked, normalise_taux, siret_valid
from gedflow.errors import InputError
from gedflow.formats import xmlscan
from gedflow.formats.xmlbuild import append, put
from gedflow.forms import rewrite
from gedflow.masking import masked
from gedflow.xmlsafe import (
    HARDENED,
    check_well_formed,
    iter_elements,
    read_root,
    sniff_xml,
    syntax_error,
)
from schemas.crm import (
    ANOMALIE,
    DECLARATION,
    DECLARATION_ELEMENT,
    ENVOI,
    FINANCIER_TYPES,
    NAMESPACE,
    NEORES_NAMESPACE,
    NEORES_ROOT,
    NOMINATIF_TYPES,
    OTHER_REPORTS,
    READING_CODES,
    RECORDS,
    ROOT,
    ROOT_ATTRIBUTES,
    SALARIE,
    TAUX_SUR_TAUX_TYPES,
    XmlRecord,
)
from schemas.fields import AAAA_MM_JJ, JJMMAAAA

log = logging.getLogger(__name__)
WHAT = "compte rendu (CRM) de la DGFiP"
NOMINATIF, FINANCIER, TAUX_SUR_TAUX = "nominatif", "financier", "taux_sur_taux"
# `Crm.problems`: one row per value gedflow cannot use (code in READING_CODES).
PROBLEM_COLUMNS = ["decl", "siret", "matricule", "nir", "element", "taux_crm", "code", "message"]
RUBRIQUE_UNDERSCORED = r"S\d{2}_G\d{2}_\d{2}_\d{3}"  # S21_G00_50_006, written S21.G00.50.006
ENVOI_HEAD = 1 << 16  # `envoi` comes before the first declaration
# A declaration larger than a block is cut between two of its salariés.
SPLIT = xmlscan.Split(SALARIE.steps[-1], (DECLARATION_ELEMENT, *SALARIE.steps[:-1]))


@dataclass
class Crm:
    """A parsed CRM. Frames carry `decl` (1-based declaration number), `siret` and `nir_cle`
    (`checks.nir_numbers`: the NIR as the integer it is matched on)."""

    kind: str  # nominatif | financier | taux_sur_taux
    attributes: dict[str, str]
    declarations: pd.DataFrame
    salaries: pd.DataFrame
    anomalies: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    problems: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS, dtype="str"))
    envoi: dict[str, str] = field(default_factory=dict)

    @property
    def identifiant(self) -> str:
        return self.attributes.get("identifiant", "")


_NAMES = tuple(sorted({DECLARATION_ELEMENT} | {
    step for record in RECORDS for fld in record.fields
    for step in (*record.steps, *fld.path.split("/"))}))


@cache
def _flattener(record: XmlRecord) -> etree.XSLT:
    """An XSLT writing one tab-separated line per record (whitespace normalised)."""
    xsl = "http://www.w3.org/1999/XSL/Transform"
    sheet = etree.Element(f"{{{xsl}}}stylesheet", version="1.0", nsmap={"xsl": xsl})
    etree.SubElement(sheet, f"{{{xsl}}}output", method="text", encoding="UTF-8")
    template = etree.SubElement(sheet, f"{{{xsl}}}template", match="/")
    select = DECLARATION_ELEMENT if record.path == "." else f"{DECLARATION_ELEMENT}/{record.path}"
    loop = etree.SubElement(template, f"{{{xsl}}}for-each", select=select)
    for i, fld in enumerate(record.fields):
        etree.SubElement(loop, f"{{{xsl}}}value-of", select=f"normalize-space({fld.path})")
        sep = etree.SubElement(loop, f"{{{xsl}}}text")
        sep.text = "\n" if i == len(record.fields) - 1 else "\t"
    return etree.XSLT(sheet)


def _flatten(record: XmlRecord, declaration: etree._Element) -> pd.DataFrame:
    out = bytes(_flattener(record)(etree.ElementTree(declaration)))
    if not out.strip(b"\n"):
        return pd.DataFrame(columns=record.names, dtype="str")
    return pa_csv.read_csv(
        io.BytesIO(out),
        read_options=pa_csv.ReadOptions(column_names=record.names),
        parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(record.names, pa.string()), strings_can_be_null=False),
    ).to_pandas()


def _kind_from_type(report_type: str) -> str | None:
    """The kind of a GIP-MDS report by its root `@type`; None when absent (decided by content).
    Other reports, and types no source names, are refused with what they are."""
    lowered = " ".join(report_type.split()).lower()
    if not lowered:
        return None
    if lowered in NOMINATIF_TYPES:
        return NOMINATIF
    if lowered in TAUX_SUR_TAUX_TYPES:
        return TAUX_SUR_TAUX
    if lowered in FINANCIER_TYPES or "paiement" in lowered or "financier" in lowered:
        return FINANCIER
    what = OTHER_REPORTS.get(lowered, "type de rapport inconnu de gedflow")
    raise InputError(
        f"ce n'est pas un retour de la DGFiP sur le PAS (type={report_type} : {what})",
        code="type_rapport",
        where="attribut type de l'élément racine",
        todo="classez ce rapport avec les autres retours de la DSN (tableau de bord "
             "net-entreprises.fr, organisme qui l'émet) ; ici seuls les CRM de la DGFiP "
             "(nominatif, financier, taux sur taux) sont traités",
    )


def parse_dates(values: pd.Series) -> pd.Series:
    """JJMMAAAA or AAAA-MM-JJ → ISO text; NaN where invalid, "" stays "" (each distinct value
    parsed once: a CRM repeats the same few dates)."""
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques, dtype="str")
    iso, compact = (pd.to_datetime(distinct.where(distinct.str.fullmatch(form.regex)),
                                   format=form.pattern, errors="coerce")
                    for form in (AAAA_MM_JJ, JJMMAAAA))
    parsed = iso.fillna(compact)
    text = (parsed.dt.strftime(AAAA_MM_JJ.pattern).where(parsed.notna(), None)
            .where(distinct != "", ""))
    lookup = np.append(text.to_numpy(dtype=object), None)  # code -1: a missing value
    return pd.Series(lookup[codes], index=values.index, dtype="str")


def _where(frame: pd.DataFrame, element: str) -> pd.Series:
    """Where a value is, for a person: declaration rank, matricule and element."""
    where = "déclaration " + frame["rang"]
    if "matricule" in frame:
        where += ", matricule " + frame["matricule"].where(frame["matricule"] != "", "?")
    return where + f", élément {element}"


def _quoted(values: pd.Series) -> pd.Series:
    return "« " + values.str.slice(0, 40) + " »"


def _problem(frame: pd.DataFrame, mask: pd.Series, code: str, element: str,
             what: pd.Series | str, rate: pd.Series | None = None) -> pd.DataFrame:
    """One `Crm.problems` row per masked row of `frame` (a declaration or a person); an
    unusable `rate` is shown as it was written."""
    rows = frame[mask]
    message = (_where(rows, element) + " : " + (what[mask] if isinstance(what, pd.Series)
                                                  else what)
               + " ; " + READING_CODES[code])
    return pd.DataFrame({
        "decl": rows["decl"], "siret": rows["siret"],
        "matricule": rows["matricule"] if "matricule" in rows else "",
        "nir": rows["nir"] if "nir" in rows else "", "element": element,
        "taux_crm": rate[mask] if rate is not None else "",
        "code": code, "message": message,
    }, columns=PROBLEM_COLUMNS)


def _normalise(crm: Crm) -> None:
    """Check and normalise in place, leniently: each value gedflow cannot use becomes a row
    of `crm.problems` (READING_CODES) and is left out of what follows; the rest is read."""
    decls, sal, anomalies = crm.declarations, crm.salaries, crm.anomalies
    problems: list[pd.DataFrame] = []
    decls["rang"] = decls["rang"].where(decls["rang"] != "", decls["decl"].astype(str))
    decls["siret"] = decls["siren"] + decls["nic"]
    decls["siret_ok"] = siret_valid(decls["siret"])
    problems.append(_problem(decls, ~decls["siret_ok"], "SIRET_INVALIDE",
                             "SIREN + nic_affectation",
                             _quoted(decls["siret"]) + " n'est pas un SIRET valide"))
    decls["periode"] = parse_dates(decls["mois"])
    problems.append(_problem(decls, decls["periode"].isna(), "DATE_INVALIDE", "mois",
                             _quoted(decls["mois"]) + " n'est pas une date (JJMMAAAA)"))
    decls["periode"] = decls["periode"].fillna("")
    by_decl = pa.array(decls["decl"].to_numpy() - 1)  # frames' `decl` → row of `decls`
    for frame in (sal, anomalies):
        rows = pa.array(frame["decl"].to_numpy() - 1)
        for column in ("siret", "rang"):
            taken = pa.array(decls[column].array).take(by_decl).take(rows)
            frame[column] = pd.Series(taken.to_pandas().array, index=frame.index)
        nir = frame["nir"].str.upper()
        valid, numbers = nir_checked(nir)
        frame["nir"] = nir.where(~valid, nir.str[:13]).str.slice(0, 15)
        frame["nir_cle"] = np.where(valid.to_numpy(), numbers, -1)
    usable = sal["nir_cle"] >= 0
    problems.append(_problem(sal, (sal["nir"] != "") & ~usable, "NIR_INVALIDE", "NIR",
                             "NIR inutilisable (13 caractères sans clé, ou 15 avec sa clé)"))
    problems.append(_problem(sal, (sal["nir"] == "") & (sal["ntt"] == ""), "NIR_INVALIDE",
                             "NIR", "ni NIR ni NTT"))
    taux, ok = normalise_taux(sal["taux"])
    sal["taux_invalide"] = (sal["taux"] != "") & ~ok
    problems.append(_problem(sal, sal["taux_invalide"], "TAUX_INVALIDE", "taux_imposition_PAS",
                             _quoted(sal["taux"]) + " n'est pas un taux (0.00 à 100.00)",
                             sal["taux"]))
    sal["taux"] = taux.where(ok, "")
    futur, ok_futur = normalise_taux(sal["futur_taux"])
    bad_futur = (sal["futur_taux"] != "") & ~ok_futur
    problems.append(_problem(sal, bad_futur, "TAUX_INVALIDE", "future_imposition_PAS/taux",
                             _quoted(sal["futur_taux"]) + " n'est pas un taux (0.00 à 100.00)",
                             sal["futur_taux"]))
    effet = parse_dates(sal["futur_date_effet"])
    bad_date = effet.isna() | ((effet == "") & ok_futur & (sal["futur_taux"] != ""))
    problems.append(_problem(sal, bad_date, "DATE_INVALIDE", "future_imposition_PAS/date_effet",
                             _quoted(sal["futur_date_effet"])
                             + " n'est pas une date (AAAA-MM-JJ) ; taux futur ignoré"))
    sal["futur_taux"] = futur.where(ok_futur & ~bad_date, "")
    sal["futur_date_effet"] = effet.where(~bad_date, "")
    rubrique = anomalies["rubrique"]
    anomalies["rubrique"] = rubrique.where(~rubrique.str.fullmatch(RUBRIQUE_UNDERSCORED),
                                           rubrique.str.replace("_", ".", regex=False))
    crm.problems = pd.concat([p for p in problems if len(p)] or [problems[0]],
                             ignore_index=True)
    for problem in crm.problems["message"].head(20):
        log.info("CRM : valeur inutilisable : %s", problem.split(" : ")[0])


def _dedupe_people(crm: Crm) -> None:
    """A person listed twice in one declaration (several contracts) is kept once (§7.10): by
    (declaration, NIR) — two integers, no packing that could collide — else by NTT."""
    sal = crm.salaries
    number = sal["nir_cle"].to_numpy()
    dup = pd.DataFrame({"d": sal["decl"].to_numpy(np.int64), "n": number}).duplicated()
    dup &= number >= 0
    by_ntt = (number < 0) & (sal["ntt"] != "").to_numpy()
    if by_ntt.any():  # people known by their NTT: few, compared as text
        dup[by_ntt] = sal[by_ntt].duplicated(["decl", "ntt"]).to_numpy()
    if not dup.any():
        return
    key = sal["nir"].where(number >= 0, "NTT:" + sal["ntt"])
    eligible = (number >= 0) | by_ntt
    shown = (dup | key.duplicated(keep=False)) & eligible
    rates = sal[shown].assign(_key=key[shown]).groupby(["decl", "_key"])
    for (decl, person), values in rates["taux"].agg(lambda s: sorted(set(s))).items():
        if len(values) > 1:
            who = masked(person)
            crm.warnings.append(
                f"déclaration {decl} : {who} présent plusieurs fois avec des taux différents "
                f"({', '.join(v or 'aucun' for v in values)}) ; le premier est retenu"
            )
    crm.salaries = sal[~dup.to_numpy()].reset_index(drop=True)


def _scanned_block(data: bytearray, size: int) -> dict[XmlRecord, pa.Table] | None:
    """Each record's table in one document (`xmlscan`); None to take the tree path."""
    tags = xmlscan.scan(data, size, _NAMES)
    if tags is None:
        return None
    declarations = xmlscan.elements(tags, (DECLARATION_ELEMENT,))
    if len(tags.by_name[tags.names.index(DECLARATION_ELEMENT)]) != len(declarations):
        return None  # a `declaration` below the root's children: the tree path counts those
    tables = {}
    for record in RECORDS:
        path = (DECLARATION_ELEMENT, *record.steps)
        at = xmlscan.elements(tags, path)
        columns = xmlscan.fields(tags, at, {f.name: tuple(f.path.split("/"))
                                            for f in record.fields})
        if columns is None:
            return None
        parents = xmlscan.ancestor(tags, at, len(path) - 1)
        columns["decl"] = pa.array(np.searchsorted(declarations, parents) + 1, pa.int64())
        tables[record] = pa.table(columns)
    return tables


def _two_at_a_time(blocks: Iterator[tuple[bytearray, int, bool]]
                   ) -> Iterator[tuple[dict[XmlRecord, pa.Table] | None, bool]]:
    """`_scanned_block` of each block, in order, with its continued flag, two blocks in flight
    (numpy works outside the GIL, so both cores scan; memory holds two blocks, whatever the
    file's size)."""
    with ThreadPoolExecutor(2) as pool:
        pending: deque = deque()
        for data, size, continued in blocks:
            pending.append((pool.submit(_scanned_block, data, size), continued))
            if len(pending) == 2:
                future, flag = pending.popleft()
                yield future.result(), flag
        while pending:
            future, flag = pending.popleft()
            yield future.result(), flag


def _joined(before: pa.Table, after: pa.Table) -> pa.Table:
    """One declaration read in two pieces: each field from the piece that holds it."""
    columns = {name: pc.if_else(pc.not_equal(before[name], ""), before[name], after[name])
               if name != "decl" else before[name] for name in before.column_names}
    return pa.table(columns)


def _scanned(path: Path) -> dict[XmlRecord, pd.DataFrame] | None:
    """Each record's table, the file scanned a block of whole declarations at a time (a
    declaration larger than that, between two salariés); the blocks' pieces made contiguous
    again (later steps take rows by index)."""
    parts: dict[XmlRecord, list[pa.Table]] = {record: [] for record in RECORDS}
    before = 0
    for tables, continued in _two_at_a_time(xmlscan.blocks(path, b"</declaration>", SPLIT)):
        if tables is None:
            return None
        offset = before - 1 if continued else before  # continued: its first is the last one
        shifted = {record: table.set_column(table.schema.get_field_index("decl"), "decl",
                                            pc.add(table["decl"], offset))
                   for record, table in tables.items()}
        before = offset + tables[DECLARATION].num_rows
        if continued:  # the last row so far and this piece's first are one declaration
            last, first = parts[DECLARATION].pop(), shifted.pop(DECLARATION)
            end = last.num_rows - 1
            parts[DECLARATION] += [piece for piece in (
                last.slice(0, end), _joined(last.slice(end), first.slice(0, 1)),
                first.slice(1)) if piece.num_rows]  # the last part ends with a declaration
        for record, table in shifted.items():
            parts[record].append(table)
    return {record: pa.concat_tables(tables).combine_chunks().to_pandas()
            for record, tables in parts.items()}


def _from_tree(path: Path) -> dict[XmlRecord, pd.DataFrame]:
    """Each record's table, one `declaration` subtree at a time (flattened by XSLT)."""
    parts: dict[XmlRecord, list[pd.DataFrame]] = {record: [] for record in RECORDS}
    count = 0
    try:
        for declaration in iter_elements(path, DECLARATION_ELEMENT):
            count += 1
            for record in RECORDS:
                parts[record].append(_flatten(record, declaration).assign(decl=count))
            declaration.clear(keep_tail=True)
            while declaration.getprevious() is not None:
                del declaration.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise syntax_error(exc, WHAT, path) from exc
    if not count:
        return {record: _flatten(record, etree.Element("vide")).assign(decl=0)
                for record in RECORDS}
    return {record: pd.concat(frames, ignore_index=True) for record, frames in parts.items()}


def _tables(path: Path) -> dict[XmlRecord, pd.DataFrame]:
    """The file checked well formed (hardened parser, no tree) while numpy scans its bytes;
    files of another shape go through the tree."""
    with ThreadPoolExecutor(1) as pool:
        checked = pool.submit(check_well_formed, path, WHAT)
        try:
            frames = _scanned(path)
        finally:
            checked.result()
    if frames is None:
        log.info("CRM %s: forme inhabituelle, lecture par l'arbre XML", path.name)
        return _from_tree(path)
    return frames


def _not_a_rapport(tag: str) -> InputError:
    name = etree.QName(tag)
    if name.namespace == NEORES_NAMESPACE and name.localname == NEORES_ROOT:
        return InputError(
            "c'est un retour GIP-MDS au format NEOReS (élément racine « GIPMDS »), pas un CRM "
            "de la DGFiP au format « rapport »",
            code="neores", where="élément racine",
            todo="classez-le avec les retours de la DSN de l'organisme qui l'émet ; ici seuls "
                 "les CRM de la DGFiP (nominatif, financier, taux sur taux) sont traités")
    return InputError(
        f"ce n'est pas un compte rendu GIP-MDS (élément racine « {name.localname} »)",
        code="racine", where="élément racine",
        todo=f"déposez le {WHAT} téléchargé sur net-entreprises.fr",
    )


def read_envoi(path: Path) -> dict[str, str]:
    """The `envoi` block (idflux, émetteur, envoi_etat) from the file's head; {} if absent or
    unreadable (it informs, nothing depends on it)."""
    with path.open("rb") as handle:
        head = handle.read(ENVOI_HEAD)
    start, end = head.find(b"<envoi>"), head.find(b"</envoi>")
    if start < 0 or end < start:
        return {}
    try:
        element = etree.fromstring(head[start:end + len(b"</envoi>")],
                                   etree.XMLParser(**HARDENED))
    except etree.XMLSyntaxError:
        return {}
    found = {f.name: " ".join(element.findtext(f.path, "").split()) for f in ENVOI.fields}
    problems = [" ".join(f"{d.findtext('code', '')} {d.findtext('message', '')}".split())
                for d in element.iterfind("envoi_anomalie/description")]
    if problems:
        found["anomalies"] = " ; ".join(problems)
    return found


def read(path: Path) -> Crm:
    """Parse a CRM file leniently: values gedflow cannot use become `problems`; raise
    `InputError` only for a file that is not a readable DGFiP return, saying what it is."""
    sniff_xml(path, WHAT)
    tag, attributes = read_root(path, WHAT)
    if tag != f"{{{NAMESPACE}}}{ROOT}":
        raise _not_a_rapport(tag)
    kind = _kind_from_type(attributes.get("type", ""))
    frames = _tables(path)
    envoi = read_envoi(path)
    if frames[DECLARATION].empty and not (kind and envoi):  # a refused deposit may have none
        raise InputError("le compte rendu ne contient aucune déclaration", code="vide",
                         todo=f"déposez le {WHAT} complet")
    crm = Crm(
        kind=kind or "",
        attributes={k: attributes.get(k, "") for k in ROOT_ATTRIBUTES},
        declarations=frames[DECLARATION],
        salaries=frames[SALARIE],
        anomalies=frames[ANOMALIE],
        envoi=envoi,
    )
    if not crm.kind:
        crm.kind = NOMINATIF if len(crm.salaries) else FINANCIER
    _normalise(crm)
    _dedupe_people(crm)
    log.info("CRM %s: %d declarations, %d salariés, %d anomalies, %d valeurs inutilisables",
             crm.kind, len(crm.declarations), len(crm.salaries), len(crm.anomalies),
             len(crm.problems))
    return crm


def _record(parent: etree._Element, record: XmlRecord, row: dict, keep_empty: set[str]) -> None:
    """Write a record's non-empty fields (paths relative to `parent`, the record's element)."""
    for fld in record.fields:
        value = row.get(fld.name, "")
        if value or fld.name in keep_empty:
            put(parent, fld.path, value)


def _file_values(crm: Crm) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Back to the file's notation: `mois` as JJMMAAAA."""
    decls = crm.declarations.copy()
    decls["mois"] = rewrite(decls["periode"], AAAA_MM_JJ, JJMMAAAA)
    return decls, crm.salaries


def write(crm: Crm, target: Path | io.BytesIO) -> None:
    """Write `crm` as a GIP-MDS `rapport` (streamed: one declaration in memory at a time)."""
    decls, salaries = _file_values(crm)
    by_decl = {d: f for d, f in salaries.groupby("decl", sort=False)}
    anomalies = {d: f for d, f in crm.anomalies.groupby("decl", sort=False)}
    attrs = {k: v for k, v in crm.attributes.items() if v}
    with etree.xmlfile(target if isinstance(target, io.BytesIO) else str(target),
                       encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{NAMESPACE}}}{ROOT}", attrs, nsmap={"gipmds": NAMESPACE}):
            for row in decls.to_dict("records"):
                element = etree.Element(DECLARATION_ELEMENT)
                _record(element, DECLARATION, row, set())
                for person in by_decl.get(row["decl"], salaries.iloc[:0]).to_dict("records"):
                    _record(append(element, SALARIE.path), SALARIE, person, {"taux"})
                for anomaly in anomalies.get(row["decl"], crm.anomalies.iloc[:0]).to_dict(
                        "records"):
                    _record(append(element, ANOMALIE.path), ANOMALIE, anomaly, set())
                xf.write(element)
