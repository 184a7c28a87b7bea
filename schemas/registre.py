"""The registry import files dropped in `inbox/registre/` (`;`-separated CSV, header exactly as
declared here, in this order). See the foundation issue for the contract.
"""

from __future__ import annotations

from schemas.fields import CsvLayout, Field, Kind

EMPLOYEURS = CsvLayout(
    name="employeurs",
    prefix="employeurs",
    key=("dossier", "siret"),
    fields=(
        Field("dossier", Kind.CODE, required=True, max_len=64),
        Field("siret", Kind.SIRET, required=True),
        Field("raison_sociale", Kind.TEXT, required=True, max_len=64),
        Field("ape", Kind.APE),
        Field("adresse1", Kind.TEXT, max_len=32),
        Field("adresse2", Kind.TEXT, max_len=32),
        Field("code_postal", Kind.CODE_POSTAL),
        Field("ville", Kind.TEXT, max_len=27),
        Field("telephone", Kind.TELEPHONE, max_len=11),
        Field("code_urssaf", Kind.CODE, max_len=3),
        Field("code_sst", Kind.CODE, max_len=10),
        Field("email_ar", Kind.EMAIL, max_len=120),
    ),
)

SALARIES = CsvLayout(
    name="salaries",
    prefix="salaries",
    key=("dossier", "siret", "matricule"),
    fields=(
        Field("dossier", Kind.CODE, required=True, max_len=64),
        Field("siret", Kind.SIRET, required=True),
        Field("matricule", Kind.CODE, required=True, max_len=30),
        Field("nir", Kind.NIR),
        Field("nom", Kind.TEXT, required=True, max_len=64),
        Field("nom_usage", Kind.TEXT, max_len=64),
        Field("prenoms", Kind.TEXT, required=True, max_len=64),
        Field("sexe", Kind.SEXE),
        Field("date_naissance", Kind.DATE),
        Field("lieu_naissance", Kind.TEXT, max_len=64),
        Field("dept_naissance", Kind.DEPT),
        Field("taux_pas", Kind.TAUX),
        Field("type_taux", Kind.TYPE_TAUX),
    ),
)

LAYOUTS = (EMPLOYEURS, SALARIES)  # in import order: the salariés refer to their employers
