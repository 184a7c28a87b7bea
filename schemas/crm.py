"""The DGFiP CRM (GIP-MDS `rapport` XML), declared once for its reader and writer.

Three DGFiP returns share this skeleton: the CRM nominatif (rates), the CRM financier (payment
anomalies only) and the CRM "taux sur taux" (rates not applied). Root
`{http://www.gip-mds.fr/}rapport` (the prefix varies: match the namespace URI); every child
element is unqualified.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "http://www.gip-mds.fr/"
ROOT = "rapport"
DECLARATION_ELEMENT = "declaration"  # repeated under the root: one per declaration
ROOT_ATTRIBUTES = ("identifiant", "type", "profil", "version", "message")

# Root @type values, by API return nature: the nominatif is 94, the financier (paiement) 93,
# the "taux sur taux" 95.
NOMINATIF_TYPES = frozenset({"crm nominatif", "94"})
FINANCIER_TYPES = frozenset({"crm paiement", "crm financier", "93"})
TAUX_SUR_TAUX_TYPES = frozenset({"crm taux sur taux", "95"})
# Other GIP-MDS reports: what they are, named in the quarantine reason.
_URSSAF = "un retour de l'URSSAF, pas de la DGFiP"
OTHER_REPORTS = {
    "aee": "AEE (attestation employeur destinée à France Travail)",
    "are": "ARE (accusé de réception de l'attestation employeur)",
    "cco": "CCO (compte rendu de contrôle de la déclaration)",
    "ban": "BAN (bilan d'anomalies de la déclaration)",
    "ano": "ANO (anomalies de la déclaration)",
    "20": "CRM d'identification des salariés (nature 20)",
    "21": "CRM de contrôles inter-déclarations (nature 21)",
    "92": "AR DGFiP (nature 92)",
    "cracoss": f"CRACOSS (compte rendu des cotisations, {_URSSAF})",
    **{code: f"compte rendu d'organisme (type {code})"
       for code in ("22", "31", "33", "41", "42", "61", "62", "80")},
}
# The newer GIP-MDS return format ("NEOReS", e.g. nature 121): another root altogether.
NEORES_NAMESPACE = "https://gipmds/1.0"
NEORES_ROOT = "GIPMDS"

# What gedflow cannot use in a CRM it reads: one report row each, the file
# is archived all the same. Code → what is done instead.
READING_CODES = {
    "SIRET_INVALIDE": "rien de cette déclaration n'est rapproché ni intégré",
    "NIR_INVALIDE": "rapproché par le matricule seulement",
    "TAUX_INVALIDE": "aucun taux enregistré pour cette personne",
    "DATE_INVALIDE": "date ignorée",
}


@dataclass(frozen=True)
class XmlField:
    """One value of a record: `path` is relative to the record element (`/` separated)."""

    name: str
    path: str


@dataclass(frozen=True)
class XmlRecord:
    """A repeated element (relative to a `declaration`) and the fields read from each."""

    path: str
    fields: tuple[XmlField, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def steps(self) -> tuple[str, ...]:
        """The element names from a `declaration` down to the record (none for `.`)."""
        return () if self.path == "." else tuple(self.path.split("/"))


# `envoi` (once per file, before the declarations): the deposit it answers. `idflux` may have
# 24 characters; `envoi_etat` KO means the deposit was refused.
ENVOI = XmlRecord(
    path="envoi",
    fields=(
        XmlField("idflux", "envoi_identification/idflux"),
        XmlField("emetteur_siret", "envoi_identification/emetteur_siret"),
        XmlField("etat", "envoi_bilan/envoi_etat"),
    ),
)

# One `declaration` per declaration (or fraction): SIREN + nic_affectation = the SIRET.
DECLARATION = XmlRecord(
    path=".",
    fields=(
        XmlField("rang", "declaration_identification/rang"),
        XmlField("nature", "declaration_identification/nature"),
        XmlField("type", "declaration_identification/type"),
        XmlField("mois", "declaration_identification/mois"),  # S20.G00.05.005, JJMMAAAA
        XmlField("identifiant_metier", "declaration_identification/identifiant_metier"),
        XmlField("siren", "declaration_identification/SIREN"),
        XmlField("nic", "declaration_identification/nic_affectation"),
        XmlField("etat", "declaration_bilan/etat"),  # OK | ANO | KO
        XmlField("effectif", "declaration_bilan/declaration_contenu/salaries"),
    ),
)

# `declaration_bilan/salarie`: NIR without key (13 chars; 15 accepted) or NTT, and the rate.
SALARIE = XmlRecord(
    path="declaration_bilan/salarie",
    fields=(
        XmlField("nir", "NIR"),
        XmlField("ntt", "NTT"),
        XmlField("matricule", "matricule"),
        XmlField("nom", "nom_famille"),
        XmlField("prenoms", "prenoms"),
        XmlField("taux", "taux_imposition_PAS"),  # percent, "." decimal; empty = no rate ≠ 0
        XmlField("futur_taux", "future_imposition_PAS/taux"),
        XmlField("futur_date_effet", "future_imposition_PAS/date_effet"),
    ),
)

# `declaration_anomalie`: code / catégorie / message, the trigger, and who it is about.
ANOMALIE = XmlRecord(
    path="declaration_anomalie",
    fields=(
        XmlField("code", "description/code"),
        XmlField("categorie", "description/categorie"),
        XmlField("message", "description/message"),
        XmlField("rubrique", "valeurs/rubrique_declenchante/identifiant"),
        XmlField("valeur", "valeurs/rubrique_declenchante/valeur"),
        XmlField("nir", "environnement/salarie/NIR"),
        XmlField("ntt", "environnement/salarie/NTT"),
        XmlField("matricule", "environnement/salarie/matricule"),
        XmlField("nom", "environnement/salarie/nom_famille"),
        XmlField("prenoms", "environnement/salarie/prenoms"),
    ),
)

RECORDS = (DECLARATION, SALARIE, ANOMALIE)

# `<stem>.taux_sur_taux.csv`: each TST01 anomaly of a CRM taux sur taux, tied to its salarié.
TAUX_SUR_TAUX_COLUMNS = ["siret", "matricule", "nom", "prenoms", "nir_masque", "date_versement",
                         "taux_applique", "montant_pas", "taux_crm", "identifiant_crm", "code",
                         "message"]
# The rubrics a TST01 names (rubrique_associee, written S21_G00_50_009 or S21.G00.50.009).
PAS_AMOUNT, DATE_VERSEMENT = "S21.G00.50.009", "S21.G00.50.001"
