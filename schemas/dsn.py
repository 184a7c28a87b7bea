"""The DSN (déclaration sociale nominative) blocks and rubrics gedflow reads, declared once:
each rubric with its kind, each block with its parent in the tree (the rubric codes of the norm,
NEODeS P24V01–P26V01). A line is `Sxx.Gxx.xx.xxx,'value'`; a block instance attaches to the
latest instance of its parent above it. Blocks not declared here are kept for the totals and
otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    TEXT = "texte"
    DATE = "date JJMMAAAA"
    AMOUNT = "montant"  # -?digits.2 decimals
    CODE = "code"  # digits and letters, no blank
    NIR = "NIR"  # 13 characters, no key


@dataclass(frozen=True)
class Rubric:
    number: str  # the last 3 digits: "001"
    name: str
    kind: Kind
    max_length: int = 0  # 0: no limit checked


@dataclass(frozen=True)
class Block:
    code: str  # "S21.G00.30"
    name: str
    parent: str  # "" for the envoi
    rubrics: tuple[Rubric, ...]

    def rubric(self, name: str) -> str:
        """The full rubric code of a named rubric: `S21.G00.30.001`."""
        return f"{self.code}.{next(r.number for r in self.rubrics if r.name == name)}"


T, D, A, C, N = Kind.TEXT, Kind.DATE, Kind.AMOUNT, Kind.CODE, Kind.NIR

ENVOI = Block("S10.G00.00", "envoi", "", (
    Rubric("001", "logiciel", T), Rubric("005", "essai_reel", C, 2),  # 01 test, 02 réel
    Rubric("006", "norme", C, 6), Rubric("008", "type_envoi", C, 2),
))
DECLARATION = Block("S20.G00.05", "declaration", "S10.G00.00", (
    Rubric("001", "nature", C, 2), Rubric("002", "type", C, 2), Rubric("003", "fraction", C, 2),
    Rubric("004", "ordre", C, 10), Rubric("005", "mois", D), Rubric("006", "id_annulee", T),
    Rubric("007", "date_constitution", D), Rubric("009", "identifiant_metier", T, 15),
))
ENTREPRISE = Block("S21.G00.06", "entreprise", "S20.G00.05", (
    Rubric("001", "siren", C, 9), Rubric("002", "nic_siege", C, 5), Rubric("003", "apen", C, 5),
    Rubric("004", "adresse", T, 50), Rubric("005", "code_postal", C, 5),
    Rubric("006", "ville", T, 50),
))
ETABLISSEMENT = Block("S21.G00.11", "etablissement", "S21.G00.06", (
    Rubric("001", "nic", C, 5), Rubric("002", "apet", C, 5), Rubric("003", "adresse", T, 50),
    Rubric("004", "code_postal", C, 5), Rubric("005", "ville", T, 50),
))
VERSEMENT_OPS = Block("S21.G00.20", "versement_organisme", "S21.G00.11", (
    Rubric("001", "organisme", T, 14), Rubric("005", "montant", A), Rubric("010", "mode", C, 2),
    Rubric("012", "siret_payeur", C, 14),
))
INDIVIDU = Block("S21.G00.30", "individu", "S21.G00.11", (
    Rubric("001", "nir", N), Rubric("002", "nom", T, 80), Rubric("003", "nom_usage", T, 80),
    Rubric("004", "prenoms", T, 80), Rubric("005", "sexe", C, 2),
    Rubric("006", "date_naissance", C, 8),  # JJMMAAAA, 99 allowed for day and month
    Rubric("007", "lieu_naissance", T, 30), Rubric("014", "dept_naissance", C, 2),
    Rubric("019", "matricule", T, 30), Rubric("020", "ntt", C, 40),
))
CONTRAT = Block("S21.G00.40", "contrat", "S21.G00.30", (
    Rubric("001", "date_debut", D), Rubric("007", "nature", C, 2), Rubric("009", "numero", T, 20),
    Rubric("010", "fin_prevue", D),
))
FIN_CONTRAT = Block("S21.G00.62", "fin_contrat", "S21.G00.40", (
    Rubric("001", "date_fin", D), Rubric("002", "motif", C, 3),
))
VERSEMENT = Block("S21.G00.50", "versement", "S21.G00.30", (
    Rubric("001", "date_versement", D), Rubric("002", "remuneration_nette_fiscale", A),
    Rubric("006", "taux", T, 5), Rubric("007", "type_taux", C, 2),
    Rubric("008", "identifiant_taux", T, 18), Rubric("009", "montant_pas", A),
    Rubric("013", "montant_soumis", A),
))
TOTAL = Block("S90.G00.90", "total", "S10.G00.00", (
    Rubric("001", "lignes", C, 10), Rubric("002", "declarations", C, 10),
))
BLOCKS = (ENVOI, DECLARATION, ENTREPRISE, ETABLISSEMENT, VERSEMENT_OPS, INDIVIDU, CONTRAT,
          FIN_CONTRAT, VERSEMENT, TOTAL)
BY_CODE = {b.code: b for b in BLOCKS}
# Lot envelope of files as an organism receives them: around whole DSNs, outside their totals.
LOT_PREFIXES = ("S05.", "S06.", "S95.", "S96.")

# S10.G00.00.005; S20.G00.05.001 / .002.
REEL, TEST = "02", "01"
MENSUELLE = "01"
ANNULE_ET_REMPLACE = "03"
SANS_INDIVIDU_TYPES = ("02", "05")
# S21.G00.40.007 → the DPAE side's contract nature.
NATURE_CONTRAT = {"01": "CDI", "02": "CDD", "03": "CTT", "07": "CDI", "08": "CDI"}
STAGE = "29"
# S21.G00.30.005.
SEXE = {"01": "M", "02": "F"}

# What gedflow could not use while reading (one row of <stem>.lecture.csv each).
READING_CODES = {
    "LIGNE_ILLISIBLE": "ligne hors de la syntaxe Sxx.Gxx.xx.xxx,'valeur' : ignorée",
    "BLOC_HORS_PLACE": "bloc sans son bloc parent au-dessus de lui : ignoré",
    "VALEUR_VIDE": "valeur vide : traitée comme absente",
    "FORMAT": "valeur de la mauvaise forme ou longueur : ignorée",
    "NIR_INVALIDE": "NIR inutilisable : salarié rapproché par son matricule",
    "TOTAUX_S90": "totaux S90 différents du fichier",
}
LECTURE_COLUMNS = ["ligne", "rubrique", "valeur", "code", "message"]

# --- Controls of a DSN against the registry (its CRM rates and DPAE) ---------------------------

BAREMES = ("13", "23", "33", "17", "27", "37")  # S21.G00.50.007: the barème types
TAUX_CRM = "01"  # .007: the rate of a CRM nominatif, whose identifiant is .008
IDENTIFIANT_CDD_COURT = "-1"  # .008 of a CDD whose initial term is at most two months
CDD = ("02", "03")  # S21.G00.40.007: CDD, mission d'intérim
DGFIP = "DGFIP"  # S21.G00.20.001 of the PAS payment (compared case-insensitively)
PAYE_PAR_UN_AUTRE = "06"  # S21.G00.20.010: the amount is paid by another SIRET

ERREUR, AVERTISSEMENT, INFO = "erreur", "avertissement", "info"
# code → (gravite, message): one row of <stem>.controle_pas.csv / .embauches.csv each.
CONTROLS = {
    "TAUX_DIFFERENT": (ERREUR, "taux appliqué différent du taux du CRM en vigueur"),
    "IDENTIFIANT_DIFFERENT": (ERREUR, "identifiant de taux différent de celui du CRM qui "
                                      "l'a communiqué"),
    "IDENTIFIANT_MANQUANT": (ERREUR, "taux de type 01 sans identifiant de CRM (S21.G00.50.008)"),
    "IDENTIFIANT_INTERDIT": (ERREUR, "identifiant de CRM donné avec un taux qui n'est pas de "
                                     "type 01"),
    "TAUX_EXPIRE": (ERREUR, "le dernier taux du CRM n'est plus valable à la date du versement "
                            "et aucun CRM plus récent n'est connu"),
    "BAREME_AU_LIEU_DU_TAUX": (ERREUR, "barème appliqué alors qu'un taux du CRM est en vigueur"),
    "TAUX_SANS_CRM": (AVERTISSEMENT, "taux de type 01 sans aucun taux de CRM connu pour le "
                                     "salarié"),
    "MONTANT_PAS": (AVERTISSEMENT, "montant du PAS différent de montant soumis × taux"),
    "CONFORME": (INFO, "versement conforme au CRM"),
    "VERSEMENT_DGFIP": (ERREUR, "versement à la DGFiP différent de la somme des PAS de la "
                                "déclaration arrondie à l'euro"),
    "VERSEMENT_DGFIP_ABSENT": (ERREUR, "des PAS sont retenus mais la déclaration n'a pas de "
                                       "versement à la DGFiP"),
    "DPAE_CONFIRMEE": (INFO, "DPAE enregistrée par l'URSSAF"),
    "DPAE_MANQUANTE": (ERREUR, "embauche sans DPAE : travail dissimulé si elle n'est pas "
                               "déclarée"),
    "DPAE_SANS_AR": (AVERTISSEMENT, "DPAE envoyée, accusé de réception pas encore reçu"),
    "DPAE_REJETEE": (ERREUR, "DPAE rejetée par l'URSSAF : corrigez et déclarez à nouveau"),
    "DPAE_APRES_EMBAUCHE": (AVERTISSEMENT, "DPAE envoyée après l'heure d'embauche"),
}
MONTANT_ERREUR = 100  # cents: MONTANT_PAS is an erreur above 1.00 €, an avertissement above 0.01
GRAVITES = (ERREUR, AVERTISSEMENT, INFO)  # the reports' order
CONTROLE_PAS_COLUMNS = [
    "siret", "matricule", "nom", "prenoms", "nir_masque", "date_versement", "taux_dsn",
    "type_taux", "identifiant_dsn", "taux_crm", "identifiant_crm", "valide_jusqu_au",
    "montant_soumis", "montant_pas", "montant_attendu", "code", "gravite", "message"]
EMBAUCHE_COLUMNS = [
    "siret", "matricule", "nom", "prenoms", "nir_masque", "date_debut", "nature_contrat",
    "numero_contrat", "dpae_statut", "code", "gravite", "message"]
