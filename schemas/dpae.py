"""DPAE / DUE formats, declared once:

- `FLAT_LAYOUT`: the fixed-width `dpae.txt` record (§2): 72-char header + 917-char message = 989
  characters, one record per hire; checked at import (no gap, no overlap, total 989);
- `HIRES`: the hires CSV dropped in `inbox/dpae/`;
- the `FR_DUE_Upload` XML vocabulary (§3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.fields import JJMMAAAA, CsvLayout, Field, Kind

RECORD_LENGTH = 989
MESSAGE_LENGTH = 917  # N_LG_MESS: the record after its 72-char header


class Flat(StrEnum):
    ALPHA = "alpha"  # left-aligned, blank-padded, ISO-8859-1 printable
    NUM = "num"  # digits, right-aligned, zero-padded
    DIGITS = "digits"  # digits, left-aligned, blank-padded (phone)
    DATE = "date"  # `JJMMAAAA` (or blank)
    TIME = "time"  # `HHMM` (or blank)
    RESERVED = "reserved"  # unnamed zone: blanks


# What a zone of each kind may hold (its value as written, blanks stripped but for RESERVED).
FLAT_PATTERNS = {
    Flat.NUM: r"\d*",
    Flat.DIGITS: r"\d*",
    Flat.DATE: rf"(?:{JJMMAAAA.regex})?",
    Flat.TIME: r"(?:(?:[01]\d|2[0-3])[0-5]\d)?",
    Flat.RESERVED: r" *",
    Flat.ALPHA: r"[\x20-\x7e\xa0-\xff]*",
}


@dataclass(frozen=True)
class FlatField:
    """One zone of the record: 1-based `start`, `length`, the spec's mnemonic (verbatim)."""

    start: int
    length: int
    mnemo: str
    kind: Flat = Flat.ALPHA
    required: bool = False

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def column(self) -> str:
        """Column name in record tables: the mnemonic, or `RESERVE_<start>`."""
        return self.mnemo or f"RESERVE_{self.start}"


def _f(start: int, length: int, mnemo: str = "", kind: Flat = Flat.ALPHA,
       required: bool = False) -> FlatField:
    return FlatField(start, length, mnemo, Flat.RESERVED if not mnemo else kind, required)


FLAT_LAYOUT: tuple[FlatField, ...] = (
    # CATEGORIE ENTETE (header, 72 chars)
    _f(1, 14, "L_IDENT_EMT", required=True),  # sender id: the employer's SIRET
    _f(15, 4, "C_APPLICATION", required=True),  # literal "DUE "
    _f(19, 16),
    _f(35, 30, "C_ADR_RET_AR", required=True),  # e-mail address for the AR
    _f(65, 8, "N_LG_MESS", Flat.NUM, required=True),  # 917
    # message (917 chars)
    _f(73, 3, "C_VERSION", required=True),  # 120 production / TST test
    _f(76, 2, "C_RET_AR_LOT"),  # batch-level AR code (filled by URSSAF)
    _f(78, 44, "LIBRE"),  # free: gedflow's record id
    _f(122, 8, "D_CREATION", Flat.DATE, required=True),
    _f(130, 4, "H_CREATION", Flat.TIME, required=True),
    _f(134, 3, "C_URSSAF", required=True),
    _f(137, 14, "N_SIRET", Flat.DIGITS, required=True),
    _f(151, 1),
    _f(152, 32, "L_RAISON_SOC_1", required=True),
    _f(184, 4),
    _f(188, 32, "L_ADR_EMP_1", required=True),
    _f(220, 32, "L_ADR_EMP_2"),
    _f(252, 5, "C_POSTAL_EMP", Flat.DIGITS, required=True),
    _f(257, 27, "L_BUR_DIST_EMP", required=True),
    _f(284, 32, "L_NOM_PATRO_SAL", required=True),  # birth name
    _f(316, 32, "L_PRENOMS_SAL", required=True),
    _f(348, 13, "N_SECU_SOC"),  # NIR without key; blank if not yet registered
    _f(361, 8, "D_NAISSANCE_SAL", Flat.DATE, required=True),
    _f(369, 24, "L_LIEU_NAISS_SAL", required=True),
    _f(393, 20),
    _f(413, 8, "D_EMBAUCHE", Flat.DATE, required=True),
    _f(421, 4, "H_EMBAUCHE", Flat.TIME, required=True),
    _f(425, 5, "R_DOSSIER"),  # dossier number, filled in the AR
    _f(430, 2, "C_RETOUR_AR"),  # AR return code, filled in the AR
    _f(432, 78),  # CATEGORIE EMPLOYEUR starts
    _f(510, 32, "L_RAISON_SOC_2"),
    _f(542, 11, "N_TEL_EMP", Flat.DIGITS),
    _f(553, 107),
    _f(660, 1, "C_ORIG_SAISIE"),
    _f(661, 5, "C_NAF_NN", required=True),
    _f(666, 33),
    _f(699, 32, "L_NOM_EPX_SAL"),  # nom d'usage
    _f(731, 1, "C_SEXE_SAL", required=True),
    _f(732, 96),
    _f(828, 2, "C_DEPT_NAISS_SAL", required=True),
    _f(830, 35),
    _f(865, 1, "C_TYPE_CONTRAT", required=True),  # 1 CDD, 2 CDI, 3 CTT
    _f(866, 8, "D_FIN_CDD", Flat.DATE),
    _f(874, 11),
    _f(885, 3, "N_JJ_ESSAI", Flat.NUM),  # trial period, days
    _f(888, 50),
    _f(938, 10, "C_MT_DCL"),  # SST code; not required for CTT
    _f(948, 23),  # CATEGORIE FORMALITE
    _f(971, 1, "I_CERTIF"),
    _f(972, 2),
    _f(974, 1, "I_IMMA"),
    _f(975, 1, "I_MT"),
    _f(976, 1, "I_PMF5"),
    _f(977, 13),
)


def check_layout(layout: tuple[FlatField, ...] = FLAT_LAYOUT) -> None:
    """The zones tile 1…989 exactly, and the message is 917 long (raises ValueError)."""
    position = 1
    for fld in layout:
        if fld.start != position:
            kind = "gap" if fld.start > position else "overlap"
            raise ValueError(f"dpae layout: {kind} before {fld.column} at {fld.start}")
        position = fld.end + 1
    if position - 1 != RECORD_LENGTH:
        raise ValueError(f"dpae layout: {position - 1} characters, {RECORD_LENGTH} expected")
    if RECORD_LENGTH - 72 != MESSAGE_LENGTH:
        raise ValueError("dpae layout: message length")


check_layout()

FLAT = {f.column: f for f in FLAT_LAYOUT}
# The zone of dpae.txt each hires column goes to: its width bounds the value (longer: truncated,
# with a warning of the test de préparation).
FLAT_ZONE_OF = {"nom": "L_NOM_PATRO_SAL", "prenoms": "L_PRENOMS_SAL", "nom_usage": "L_NOM_EPX_SAL",
                "lieu_naissance": "L_LIEU_NAISS_SAL", "employeur_adresse1": "L_ADR_EMP_1",
                "employeur_adresse2": "L_ADR_EMP_2", "employeur_ville": "L_BUR_DIST_EMP"}
FLAT_WIDTHS = {column: FLAT[zone].length for column, zone in FLAT_ZONE_OF.items()}

CONTRACT_CODES = {"CDD": "1", "CDI": "2", "CTT": "3"}  # nature → C_TYPE_CONTRAT
CONTRACT_NATURES = {code: nature for nature, code in CONTRACT_CODES.items()}

HIRES = CsvLayout(
    name="embauches",
    prefix="",
    key=("siret", "matricule", "date_embauche", "heure_embauche"),
    fields=(
        Field("siret", Kind.SIRET, required=True),
        Field("matricule", Kind.CODE, required=True, max_len=30),
        Field("nom", Kind.TEXT, required=True, max_len=64),
        Field("nom_usage", Kind.TEXT, max_len=64),
        Field("prenoms", Kind.TEXT, required=True, max_len=64),
        Field("sexe", Kind.SEXE, required=True),
        Field("nir", Kind.NIR),
        Field("date_naissance", Kind.DATE, required=True),
        Field("lieu_naissance", Kind.TEXT, required=True, max_len=64),
        Field("dept_naissance", Kind.DEPT, required=True),
        Field("date_embauche", Kind.DATE, required=True),
        Field("heure_embauche", Kind.HEURE, required=True),
        Field("nature_contrat", Kind.NATURE, required=True),
        Field("date_fin", Kind.DATE),
        Field("essai_jours", Kind.JOURS),
    ),
)

# FR_DUE_Upload (§3): namespaces on the root, and the test indicator values.
XML_NAMESPACES = {
    "cct": "urn:oasis:names:tc:ubl:CoreComponentTypes:1.0:0.70",
    "rxdt": "http://www.repxml.org/DataTypes",
    "rxorg": "http://www.repxml.org/Organization",
    "rxpadr": "http://www.repxml.org/PostalAddress",
    "rxpers": "http://www.repxml.org/Person_Identity",
    "rxphadr": "http://www.repxml.org/PhoneAddress",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XML_TEST_INDICATOR = {"TST": "1", "120": "120"}
# The message's tree: the root, its test indicator, one dues group per employer (the employer,
# then one employee group per hire).
XML_ROOT, XML_TEST = "FR_DUE_Upload", "FR_DUE_Upload.Test.Indicator"
XML_DUES, XML_EMPLOYER_GROUP, XML_EMPLOYEE_GROUP = "FR_DuesGroup", "FR_Employer", "FR_EmployeeGroup"
XML_SEX_CODES = {"M": "1", "F": "2"}

# FR_DUE_Upload element paths (prefixes as in XML_NAMESPACES) → hire-table column, and what to do
# with an empty value: "omit" the element, or "keep" it empty (EndContract.Date for a CDI).
XML_EMPLOYER: tuple[tuple[str, str, str], ...] = (
    ("FR_EmployerIdentity/rxorg:FR_Organization.SIRET.Identifier", "siret", "keep"),
    ("FR_EmployerIdentity/rxorg:FR_Organization.Designation.Text", "x_raison_sociale", "keep"),
    ("FR_EmployerIdentity/rxorg:FR_Organization.APE.Code", "employeur_ape", "keep"),
    ("FR_Employer.URSSAF.Code", "employeur_code_urssaf", "keep"),
    ("FR_EmployerAddress/rxpadr:FR_PostalAddress.StreetDesignation.Text", "x_adresse1", "keep"),
    ("FR_EmployerAddress/rxpadr:FR_PostalAddress.Additional.Text", "x_adresse2", "omit"),
    ("FR_EmployerAddress/rxpadr:FR_PostalAddress.Town.Text", "x_ville", "keep"),
    ("FR_EmployerAddress/rxpadr:FR_PostalAddress.Postal.Code", "employeur_code_postal", "keep"),
    ("FR_EmployerContact/FR_PhoneNumber/rxphadr:FR_PhoneAddress.PhoneNumber.Text",
     "employeur_telephone", "keep"),
)
XML_EMPLOYEE: tuple[tuple[str, str, str], ...] = (
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_PersonIdentity.Surname.Text", "x_nom", "keep"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_PersonIdentity.UsualName.Text", "x_nom_usage",
     "omit"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_PersonIdentity.ChristianName.Text", "x_prenoms",
     "keep"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_PersonIdentity.Sex.Code", "x_sexe", "keep"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_NNI/rxpers:FR_NNI.NIR.Identifier", "x_nir13",
     "omit"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_NNI/rxpers:FR_NNI.NIRKey.Text", "x_nir_cle",
     "omit"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_Birth/rxpers:FR_Birth.Date", "x_naissance",
     "keep"),
    ("FR_Employee/FR_EmployeeIdentity/rxpers:FR_Birth/rxpers:FR_Birth.Town.Text", "x_lieu",
     "keep"),
    ("FR_Employee/FR_EmployeeComplement/FR_EmployeeComplement.Birth_Department.Code",
     "x_dept", "keep"),
    ("FR_Contract/FR_Contract.StartContract.Date", "x_debut", "keep"),
    ("FR_Contract/FR_Contract.StartContract.Time", "x_heure", "keep"),
    ("FR_Contract/FR_Contract.EndContract.Date", "x_fin", "keep"),
    ("FR_Contract/FR_Contract.Nature.Code", "nature_contrat", "keep"),
    ("FR_Contract/FR_Contract.HealthService.Text", "employeur_code_sst", "omit"),
)

# The API DPAE's bilan: a GIP-MDS `rapport` whose `profil` is DPAE. Its verdict (OK: the
# certificat de conformité; KO: the message) in elements found anywhere in the document.
BILAN_PROFIL = "DPAE"
BILAN_ETATS = ("OK", "KO")
BILAN_ELEMENTS = {"idflux": "idflux", "etat": "etat_conformite",
                  "certificat": "certificat_conformite", "message": "message"}
