"""DSN files written for the tests from records, with the rubric codes of `schemas.dsn` (each
a complete envoi with its S90 totals unless told otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.dsn import (
    CONTRAT,
    DECLARATION,
    ENTREPRISE,
    ENVOI,
    ETABLISSEMENT,
    FIN_CONTRAT,
    INDIVIDU,
    TOTAL,
    VERSEMENT,
    VERSEMENT_OPS,
    Block,
)


@dataclass
class Person:
    nir: str = ""
    nom: str = "MARTIN"
    prenoms: str = "PAUL"
    matricule: str = ""
    ntt: str = ""
    sexe: str = "01"
    date_naissance: str = "12071985"
    contrats: list[dict] = field(default_factory=lambda: [{"date_debut": "01092019",
                                                           "nature": "01", "numero": "00001"}])
    versements: list[dict] = field(default_factory=lambda: [{
        "date_versement": "31032026", "remuneration_nette_fiscale": "1000.00", "taux": "7.50",
        "type_taux": "01", "identifiant_taux": "900000000000001234", "montant_pas": "75.00",
        "montant_soumis": "1000.00"}])


def lines_of(block: Block, values: dict) -> list[str]:
    """The block's lines for the given rubrics (by name), in rubric order; empty ones left out."""
    return [f"{block.code}.{r.number},'{values[r.name]}'" for r in block.rubrics
            if values.get(r.name, "") != ""]


def declaration(people: list[Person], siren: str = "812345676", nic: str = "00017",
                mois: str = "01032026", nature: str = "01", type_: str = "01", ordre: str = "1",
                constitution: str = "03042026", pas_total: str | None = None) -> list[str]:
    out = lines_of(DECLARATION, {"nature": nature, "type": type_, "fraction": "11",
                                 "ordre": ordre, "mois": mois,
                                 "date_constitution": constitution,
                                 "identifiant_metier": f"PAIE{mois[4:]}{mois[2:4]}"})
    out += lines_of(ENTREPRISE, {"siren": siren, "nic_siege": nic, "apen": "8899B",
                                 "adresse": "12 RUE DE L'EXEMPLE", "code_postal": "69003",
                                 "ville": "LYON"})
    out += lines_of(ETABLISSEMENT, {"nic": nic, "apet": "8899B", "adresse": "12 RUE DES LILAS",
                                    "code_postal": "69003", "ville": "LYON"})
    if pas_total is not None:
        out += lines_of(VERSEMENT_OPS, {"organisme": "DGFIP", "montant": pas_total,
                                        "mode": "05"})
    for p in people:
        out += lines_of(INDIVIDU, {"nir": p.nir, "nom": p.nom, "prenoms": p.prenoms,
                                   "sexe": p.sexe, "date_naissance": p.date_naissance,
                                   "matricule": p.matricule, "ntt": p.ntt})
        for c in p.contrats:
            out += lines_of(CONTRAT, c)
            if c.get("date_fin"):
                out += lines_of(FIN_CONTRAT, {"date_fin": c["date_fin"], "motif": "031"})
        for v in p.versements:
            out += lines_of(VERSEMENT, v)
    return out


def envoi(*declarations: list[str], reel: bool = True, totals: tuple[str, str] | None = None
          ) -> list[str]:
    body = lines_of(ENVOI, {"logiciel": "TEST-PAIE", "essai_reel": "02" if reel else "01",
                            "norme": "P26V01", "type_envoi": "01"})
    for decl in declarations:
        body += decl
    count = len(body) + 2
    lignes, declarations_ = totals or (str(count), str(len(declarations)))
    return body + lines_of(TOTAL, {"lignes": lignes, "declarations": declarations_})


def dsn_bytes(lines: list[str], encoding: str = "iso-8859-1", newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode(encoding)
