"""The DGFiP CRM (GIP-MDS `rapport` XML), declared once for its reader and writer.

Spec: shared/docs/crm_format.md (CRM nominatif, §2–§3) and crm_financier.md (CRM paiement, same
skeleton, anomalies only). Root `{http://www.gip-mds.fr/}rapport` (the prefix varies: match the
namespace URI); every child element is unqualified.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "http://www.gip-mds.fr/"
ROOT = "rapport"
ROOT_ATTRIBUTES = ("identifiant", "type", "profil", "version", "message")

# Root @type values. The nominatif is return nature 94, the financier (paiement) nature 93.
NOMINATIF_TYPES = frozenset({"crm nominatif", "94"})
FINANCIER_TYPES = frozenset({"crm paiement", "crm financier", "93"})
# Other GIP-MDS reports (crm_format.md §2): named in the quarantine reason.
OTHER_REPORTS = {
    "aee": "AEE (attestation employeur)", "are": "ARE", "cco": "CCO", "ban": "BAN (bilan)",
    "ano": "ANO (anomalies)", "20": "CRM identité (20)", "21": "contrôles inter-déclarations (21)",
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
