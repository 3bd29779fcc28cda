# ruff: noqa: E501  (data tables read better one row per line)
"""Data the seed draws from: French names, communes of birth, the synthetic directory, and
the words of the documents (titles, clinical phrases, analytes, drugs, vaccines).

Everything here is synthetic or public reference data (INSEE commune and country codes,
ATC codes); no real person is described. INSEE codes are the ones a NIR carries: for Paris,
Lyon and Marseille the arrondissement's code, for a birth abroad ``99`` + the country code.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- people ----------------------------------------------------------------------------------

FAMILY_NAMES: tuple[str, ...] = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
    "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
    "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
    "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE", "ANDRE", "MERCIER", "BLANC",
    "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA",
    "PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU",
    "GAUTIER", "MASSON", "MARCHAND", "DUVAL", "DENIS", "DUMONT", "MARIE", "LEMAIRE",
    "NOEL", "MEYER", "DUFOUR", "MEUNIER", "BRUN", "BLANCHARD", "GIRAUD", "JOLY",
    "RIVIERE", "LUCAS", "BRUNET", "GAILLARD", "BARBIER", "ARNAUD", "MARTINEZ", "GERARD",
    "ROCHE", "RENARD", "SCHMITT", "ROY", "LEROUX", "COLIN", "VIDAL", "CARON",
    "PICARD", "ROGER", "FABRE", "AUBERT", "LEMOINE", "RENAUD", "DUMAS", "LACROIX",
    "OLIVIER", "PHILIPPE", "BOURGEOIS", "PIERRE", "BENOIT", "REY", "LECLERC", "PAYET",
    "ROLLAND", "LECLERCQ", "GUILLAUME", "LECOMTE", "LOPEZ", "JEAN", "DUPUY", "GUILLOT",
    "HUBERT", "BERGER", "CARPENTIER", "SANCHEZ", "DUPUIS", "MOULIN", "LOUIS", "DESCHAMPS",
    "HUET", "VASSEUR", "PEREZ", "BOUCHER", "FLEURY", "ROYER", "KLEIN", "JACQUET",
    "ADAM", "PARIS", "POIRIER", "MARTY", "AUBRY", "GUYOT", "CARRE", "CHARLES",
    "RENAULT", "CHARPENTIER", "MENARD", "MAILLARD", "BARON", "BERTIN", "BAILLY", "HERVE",
    "SCHNEIDER", "FERNANDEZ", "LE GALL", "COLLET", "LEGER", "BOUVIER", "JULIEN", "PREVOST",
    "MILLET", "PERROT", "DANIEL", "LE ROUX", "COUSIN", "GERMAIN", "BRETON", "BESSON",
    "LANGLOIS", "REMY", "PELLETIER", "LEVEQUE", "PERRIER", "LEBLANC", "BARRE", "LEBRUN",
    "MARCHAL", "WEBER", "MALLET", "HAMON", "BOULANGER", "JACOB", "MONNIER", "MICHAUD",
    "RODRIGUEZ", "GUICHARD", "GILLET", "ETIENNE", "GRONDIN", "POULAIN", "TESSIER", "CHEVALLIER",
    "COLLIN", "CHAUVIN", "DA SILVA", "BOUCHET", "GAY", "LEMAITRE", "BENARD", "MARECHAL",
    "HUMBERT", "REYNAUD", "ANTOINE", "HOARAU", "PERRET", "BARTHELEMY", "CORDIER", "PICHON",
    "LEJEUNE", "GILBERT", "LAMY", "DELAUNAY", "PASQUIER", "CARLIER", "LAPORTE", "BENSAID",
    "NGUYEN", "TRAN", "BENALI", "HADDAD", "TOURE", "DIALLO", "SANTONI", "ALBERTINI",
)  # fmt: skip
"""Common French family names (upper case, as the INS traits are)."""

CORSICAN_FAMILY_NAMES: tuple[str, ...] = ("SANTONI", "ALBERTINI", "CASANOVA", "PAOLI", "LUCIANI")

# Given names by birth period: names parents gave in those years (INSEE's first-name files
# show the fashions; these are common ones of each period, not a statistical draw).
MALE_GIVEN_NAMES: dict[str, tuple[str, ...]] = {
    "old": (
        "Jean", "Pierre", "Michel", "André", "Philippe", "René", "Louis", "Alain",
        "Jacques", "Bernard", "Marcel", "Daniel", "Roger", "Robert", "Paul", "Claude",
        "Christian", "Henri", "Georges", "Gérard", "Maurice", "Raymond", "Lucien", "Guy",
    ),
    "middle": (
        "Philippe", "Christophe", "Stéphane", "Laurent", "Frédéric", "Olivier", "Éric",
        "Nicolas", "David", "Sébastien", "Thierry", "Pascal", "Patrick", "Jérôme", "Franck",
        "Julien", "Vincent", "Cédric", "Jean-François", "Jean-Luc", "Arnaud", "Yannick",
    ),
    "young": (
        "Lucas", "Hugo", "Thomas", "Théo", "Nathan", "Louis", "Gabriel", "Jules", "Léo",
        "Arthur", "Raphaël", "Adam", "Maël", "Noah", "Ethan", "Tom", "Sacha", "Mathis",
        "Enzo", "Paul", "Antoine", "Maxime", "Alexandre", "Quentin", "Kylian", "Liam",
    ),
}  # fmt: skip

FEMALE_GIVEN_NAMES: dict[str, tuple[str, ...]] = {
    "old": (
        "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nicole", "Jacqueline",
        "Sylvie", "Isabelle", "Martine", "Christiane", "Simone", "Denise", "Madeleine",
        "Suzanne", "Yvette", "Colette", "Odette", "Paulette", "Josiane", "Danielle", "Annie",
    ),
    "middle": (
        "Nathalie", "Isabelle", "Sandrine", "Valérie", "Stéphanie", "Céline", "Véronique",
        "Sophie", "Christelle", "Karine", "Virginie", "Aurélie", "Émilie", "Caroline",
        "Laurence", "Corinne", "Delphine", "Anne-Sophie", "Marie-Laure", "Élodie", "Audrey",
    ),
    "young": (
        "Léa", "Emma", "Chloé", "Manon", "Camille", "Inès", "Jade", "Louise", "Alice",
        "Lina", "Zoé", "Lola", "Juliette", "Rose", "Anna", "Léna", "Mila", "Ambre", "Clara",
        "Sarah", "Julie", "Lucie", "Mathilde", "Pauline", "Margaux", "Agathe",
    ),
}  # fmt: skip


def given_name_period(birth_year: int) -> str:
    """The key of the given-name lists for someone born in ``birth_year``."""
    if birth_year < 1955:
        return "old"
    if birth_year < 1988:
        return "middle"
    return "young"


# -- places ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BirthPlace:
    code: str
    """INSEE code as the NIR carries it: 2 characters of department + 3 of commune (or of
    country for ``99``); Corsica ``2A``/``2B``, overseas ``97`` + 3 digits."""
    name: str


BIRTH_PLACES_METRO: tuple[BirthPlace, ...] = (
    BirthPlace("69383", "Lyon 3e Arrondissement"),
    BirthPlace("69388", "Lyon 8e Arrondissement"),
    BirthPlace("69384", "Lyon 4e Arrondissement"),
    BirthPlace("69266", "Villeurbanne"),
    BirthPlace("69259", "Vénissieux"),
    BirthPlace("69264", "Villefranche-sur-Saône"),
    BirthPlace("69029", "Bron"),
    BirthPlace("75112", "Paris 12e Arrondissement"),
    BirthPlace("75114", "Paris 14e Arrondissement"),
    BirthPlace("75115", "Paris 15e Arrondissement"),
    BirthPlace("13205", "Marseille 5e Arrondissement"),
    BirthPlace("31555", "Toulouse"),
    BirthPlace("33063", "Bordeaux"),
    BirthPlace("59350", "Lille"),
    BirthPlace("44109", "Nantes"),
    BirthPlace("67482", "Strasbourg"),
    BirthPlace("35238", "Rennes"),
    BirthPlace("34172", "Montpellier"),
    BirthPlace("06088", "Nice"),
    BirthPlace("38185", "Grenoble"),
    BirthPlace("21231", "Dijon"),
    BirthPlace("63113", "Clermont-Ferrand"),
    BirthPlace("87085", "Limoges"),
    BirthPlace("29019", "Brest"),
    BirthPlace("76540", "Rouen"),
    BirthPlace("51454", "Reims"),
    BirthPlace("37261", "Tours"),
    BirthPlace("42218", "Saint-Étienne"),
    BirthPlace("74010", "Annecy"),
    BirthPlace("25056", "Besançon"),
    BirthPlace("54395", "Nancy"),
    BirthPlace("49007", "Angers"),
    BirthPlace("14118", "Caen"),
    BirthPlace("64445", "Pau"),
    BirthPlace("66136", "Perpignan"),
)

BIRTH_PLACES_CORSICA: tuple[BirthPlace, ...] = (
    BirthPlace("2A004", "Ajaccio"),
    BirthPlace("2B033", "Bastia"),
)
"""Corsica's departments 2A/2B exist since 1976: only people born after it get them."""

BIRTH_PLACES_OVERSEAS: tuple[BirthPlace, ...] = (
    BirthPlace("97411", "Saint-Denis (La Réunion)"),
    BirthPlace("97209", "Fort-de-France"),
)

BIRTH_PLACES_ABROAD: tuple[BirthPlace, ...] = (
    BirthPlace("99350", "Maroc"),
    BirthPlace("99352", "Algérie"),
    BirthPlace("99351", "Tunisie"),
    BirthPlace("99139", "Portugal"),
    BirthPlace("99127", "Italie"),
    BirthPlace("99134", "Espagne"),
    BirthPlace("99341", "Sénégal"),
    BirthPlace("99131", "Belgique"),
)

RESIDENCE_CITIES: tuple[str, ...] = (
    "Lyon", "Lyon", "Lyon", "Villeurbanne", "Villeurbanne", "Vénissieux", "Vaulx-en-Velin",
    "Bron", "Caluire-et-Cuire", "Saint-Priest", "Meyzieu", "Rillieux-la-Pape", "Oullins",
    "Écully", "Tassin-la-Demi-Lune", "Villefranche-sur-Saône", "Givors", "Décines-Charpieu",
)  # fmt: skip
"""Where patients live: around the fictional Saint-Martin hospital of the personas (Rhône)."""


# -- the synthetic directory -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StructureSpec:
    key: str
    id: str
    name: str
    kind: str
    """cabinet | etablissement | centre_15 | officine (schema.sql)."""


@dataclass(frozen=True, slots=True)
class ProfessionalSpec:
    """A synthetic professional of the directory (a document author, no card)."""

    family_name: str
    given_name: str
    gender: str
    profession: str
    """TRE_G15 code (the matrix key)."""
    profession_label: str
    specialty: str | None
    """TRE_R38 code (SMxx) for doctors."""
    structure: str
    """Key of a :data:`STRUCTURES` entry."""
    pools: tuple[str, ...]
    """Author pools the seed draws from (see ``sandbox.seed``): gp, lab, radiology..."""


# Identifiers mimic the personas': "1" + FINESS-like number for an établissement or a lab,
# "3" + SIRET-like number for a cabinet or an officine; every number starts 997 (test range).
STRUCTURES: tuple[StructureSpec, ...] = (
    StructureSpec("cab_brotteaux", "3997000110011", "Cabinet médical des Brotteaux", "cabinet"),
    StructureSpec("cab_croix_rousse", "3997000110022", "Maison de santé de la Croix-Rousse", "cabinet"),
    StructureSpec("cab_gerland", "3997000110033", "Cabinet médical de Gerland", "cabinet"),
    StructureSpec("lab_bioaxis", "1997001101", "Laboratoire de biologie médicale Bioaxis", "etablissement"),
    StructureSpec("lab_rhone", "1997001102", "Laboratoire Rhône Biologie - site Part-Dieu", "etablissement"),
    StructureSpec("imagerie", "3997000110044", "Centre d'imagerie médicale Lumière", "cabinet"),
    StructureSpec("chu", "1997001201", "Centre hospitalier universitaire de Fourvière", "etablissement"),
    StructureSpec("chs", "1997001301", "Centre hospitalier spécialisé des Monts d'Or", "etablissement"),
    StructureSpec("clinique", "1997001401", "Clinique du Parc Tête d'Or", "etablissement"),
    StructureSpec("pharma_marche", "3997000110055", "Pharmacie du Marché", "officine"),
    StructureSpec("pharma_pentes", "3997000110066", "Pharmacie des Pentes", "officine"),
    StructureSpec("cab_infirmier", "3997000110077", "Cabinet infirmier Saint-Jean", "cabinet"),
    StructureSpec("cab_specialistes", "3997000110088", "Centre médical des spécialistes Bellecour", "cabinet"),
    StructureSpec("cab_kine", "3997000110099", "Cabinet de kinésithérapie des Canuts", "cabinet"),
    StructureSpec("cab_dentaire", "3997000110100", "Cabinet dentaire Jean Macé", "cabinet"),
    StructureSpec("ehpad", "1997001501", "EHPAD Les Glycines", "etablissement"),
    StructureSpec("ime", "1997001601", "Institut médico-éducatif Les Tournesols", "etablissement"),
    StructureSpec("ch_saint_martin", "1997000456", "Centre hospitalier de Saint-Martin", "etablissement"),
    StructureSpec("maternite", "1997000567", "Maternité Sainte-Anne", "etablissement"),
)  # fmt: skip
"""Structures of the synthetic professionals (the last two are the personas' own)."""

_MED = "Médecin"
PROFESSIONALS: tuple[ProfessionalSpec, ...] = (
    # médecins généralistes (médecins traitants of the patients the GP persona does not follow)
    ProfessionalSpec("GARNIER", "Philippe", "male", "10", _MED, "SM54", "cab_brotteaux", ("gp",)),
    ProfessionalSpec("CHEVALIER", "Hélène", "female", "10", _MED, "SM54", "cab_brotteaux", ("gp",)),
    ProfessionalSpec("NGUYEN", "Minh", "male", "10", _MED, "SM26", "cab_croix_rousse", ("gp",)),
    ProfessionalSpec("BLANCHARD", "Sophie", "female", "10", _MED, "SM54", "cab_croix_rousse", ("gp",)),
    ProfessionalSpec("HADDAD", "Yasmina", "female", "10", _MED, "SM54", "cab_gerland", ("gp",)),
    # biologie
    ProfessionalSpec("LACROIX", "Bertrand", "male", "10", _MED, "SM03", "lab_bioaxis", ("lab",)),
    ProfessionalSpec("RENAUD", "Céline", "female", "21", "Pharmacien", None, "lab_bioaxis", ("lab",)),
    ProfessionalSpec("VIDAL", "Marc", "male", "10", _MED, "SM63", "lab_rhone", ("lab",)),
    # imagerie
    ProfessionalSpec("FAURE", "Antoine", "male", "10", _MED, "SM44", "imagerie", ("radiology",)),
    ProfessionalSpec("MEUNIER", "Claire", "female", "10", _MED, "SM44", "imagerie", ("radiology",)),
    # hôpital
    ProfessionalSpec("BARBIER", "Olivier", "male", "10", _MED, "SM14", "chu", ("hospital", "surgeon")),
    ProfessionalSpec("LEMOINE", "Isabelle", "female", "10", _MED, "SM27", "chu", ("hospital",)),
    ProfessionalSpec("ROLLAND", "Thierry", "male", "10", _MED, "SM02", "chu", ("anesthetist",)),
    ProfessionalSpec("CARON", "Nathalie", "female", "10", _MED, "SM36", "chu", ("hospital", "oncology")),
    ProfessionalSpec("DUMAS", "Frédéric", "male", "10", _MED, "SM01", "chu", ("pathology",)),
    ProfessionalSpec("PERRIN", "Agnès", "female", "10", _MED, "SM17", "chu", ("genetics",)),
    ProfessionalSpec("AUBERT", "Julien", "male", "10", _MED, "SM59", "chu", ("emergency",)),
    ProfessionalSpec("MARCHAND", "Laure", "female", "10", _MED, "SM08", "clinique", ("hospital", "surgeon")),
    ProfessionalSpec("LEGRAND", "Paul", "male", "10", _MED, "SM02", "clinique", ("anesthetist",)),
    ProfessionalSpec("BERTIN", "Sylvie", "female", "10", _MED, "SM20", "maternite", ("obstetrics",)),
    ProfessionalSpec("GUYOT", "Damien", "male", "10", _MED, "SM40", "ch_saint_martin", ("pediatrics",)),
    # psychiatrie, psychologie
    ProfessionalSpec("LAMBERT", "Véronique", "female", "10", _MED, "SM42", "chs", ("psychiatry",)),
    ProfessionalSpec("MOULIN", "Guillaume", "male", "10", _MED, "SM43", "chs", ("psychiatry",)),
    ProfessionalSpec("DELAUNAY", "Emma", "female", "93", "Psychologue", None, "chs", ("psychology",)),
    # spécialistes de ville
    ProfessionalSpec("SCHMITT", "Laurent", "male", "10", _MED, "SM04", "cab_specialistes", ("specialist", "cardiology")),
    ProfessionalSpec("COLIN", "Mathilde", "female", "10", _MED, "SM15", "cab_specialistes", ("specialist",)),
    ProfessionalSpec("HUMBERT", "Éric", "male", "10", _MED, "SM38", "cab_specialistes", ("ophthalmology",)),
    ProfessionalSpec("BRUNET", "Aurélie", "female", "10", _MED, "SM62", "cab_specialistes", ("specialist", "diabetology")),
    ProfessionalSpec("PICARD", "Camille", "female", "10", _MED, "SM40", "cab_specialistes", ("pediatrics",)),
    # pharmacie, soins de ville
    ProfessionalSpec("LEBRUN", "Stéphane", "male", "21", "Pharmacien", None, "pharma_marche", ("pharmacy",)),
    ProfessionalSpec("FLEURY", "Anne", "female", "21", "Pharmacien", None, "pharma_pentes", ("pharmacy",)),
    ProfessionalSpec("TESSIER", "Marion", "female", "60", "Infirmier", None, "cab_infirmier", ("nursing",)),
    ProfessionalSpec("BOUVIER", "Kévin", "male", "60", "Infirmier", None, "cab_infirmier", ("nursing",)),
    ProfessionalSpec("GAILLARD", "Romain", "male", "70", "Masseur-Kinésithérapeute", None, "cab_kine", ("physio",)),
    ProfessionalSpec("MALLET", "Inès", "female", "40", "Chirurgien-Dentiste", None, "cab_dentaire", ("dental",)),
    ProfessionalSpec("POULAIN", "Justine", "female", "50", "Sage-Femme", None, "maternite", ("midwifery",)),
    # médico-social
    ProfessionalSpec("BENSAID", "Nadia", "female", "41", "Assistant de service social", None, "ehpad", ("social",)),
    ProfessionalSpec("ROYER", "Fabien", "male", "51", "Educateur spécialisé", None, "ime", ("social",)),
)  # fmt: skip


# -- vaccines -------------------------------------------------------------------------------------

ATC_SYSTEM = "http://www.whocc.no/atc"


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    """ATC code (WHO)."""
    display: str
    label: str
    """Short French name used in titles."""
    ages: tuple[int, int]
    """Age range (years) of the people it is given to in the seed."""


VACCINES: tuple[Vaccine, ...] = (
    Vaccine("J07CA09", "Vaccin hexavalent DTCaP-Hib-HepB", "hexavalent", (0, 1)),
    Vaccine("J07AL02", "Vaccin pneumococcique conjugué", "pneumocoque", (0, 1)),
    Vaccine("J07AH07", "Vaccin méningococcique C conjugué", "méningocoque C", (0, 2)),
    Vaccine("J07BD52", "Vaccin rougeole-oreillons-rubéole", "ROR", (1, 2)),
    Vaccine("J07CA02", "Vaccin dTcaP (rappel)", "dTcaP", (6, 95)),
    Vaccine("J07BM03", "Vaccin papillomavirus 9-valent", "HPV", (11, 19)),
    Vaccine("J07BC01", "Vaccin hépatite B", "hépatite B", (11, 60)),
    Vaccine("J07BB02", "Vaccin grippal inactivé", "grippe saisonnière", (18, 95)),
    Vaccine("J07BN01", "Vaccin COVID-19 ARNm", "COVID-19", (18, 95)),
    Vaccine("J07BK03", "Vaccin zona recombinant adjuvé", "zona", (65, 95)),
    Vaccine("J07CA01", "Vaccin dTP (rappel)", "dTP", (25, 95)),
    Vaccine("J07AL01", "Vaccin pneumococcique polyosidique 23-valent", "pneumocoque 23", (65, 95)),
    Vaccine("J07AH08", "Vaccin méningococcique ACWY conjugué", "méningocoque ACWY", (11, 25)),
    Vaccine("J07AH09", "Vaccin méningococcique B", "méningocoque B", (0, 1)),
    Vaccine("J07BC02", "Vaccin hépatite A", "hépatite A", (18, 60)),
    Vaccine("J07BK01", "Vaccin varicelle vivant atténué", "varicelle", (12, 15)),
    Vaccine("J07AN01", "Vaccin BCG", "BCG", (0, 0)),
    Vaccine("J07BL01", "Vaccin fièvre jaune", "fièvre jaune", (18, 60)),
    Vaccine("J07BH01", "Vaccin rotavirus", "rotavirus", (0, 0)),
)
"""Local vaccine list (ATC codes): short labels and the ages the seed gives them at.
resources/vaccines.json, when present, decides which codes exist and their display."""


# -- document words -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analyte:
    name: str
    unit: str
    low: float
    high: float
    decimals: int


ANALYTES: dict[str, tuple[Analyte, ...]] = {
    "NFS": (
        Analyte("Hémoglobine", "g/dL", 12.0, 16.5, 1),
        Analyte("Leucocytes", "G/L", 4.0, 10.0, 2),
        Analyte("Plaquettes", "G/L", 150, 400, 0),
        Analyte("VGM", "fL", 80, 100, 0),
    ),
    "Bilan lipidique": (
        Analyte("Cholestérol total", "g/L", 1.5, 2.4, 2),
        Analyte("HDL-cholestérol", "g/L", 0.4, 0.8, 2),
        Analyte("LDL-cholestérol", "g/L", 0.7, 1.9, 2),
        Analyte("Triglycérides", "g/L", 0.5, 1.9, 2),
    ),
    "Glycémie et HbA1c": (
        Analyte("Glycémie à jeun", "g/L", 0.75, 1.6, 2),
        Analyte("Hémoglobine glyquée (HbA1c)", "%", 5.2, 8.9, 1),
    ),
    "Ionogramme et fonction rénale": (
        Analyte("Sodium", "mmol/L", 134, 145, 0),
        Analyte("Potassium", "mmol/L", 3.4, 5.2, 1),
        Analyte("Créatinine", "µmol/L", 55, 140, 0),
        Analyte("DFG (CKD-EPI)", "mL/min/1,73m²", 35, 110, 0),
    ),
    "Bilan hépatique": (
        Analyte("ASAT", "UI/L", 12, 60, 0),
        Analyte("ALAT", "UI/L", 10, 65, 0),
        Analyte("Gamma-GT", "UI/L", 12, 90, 0),
        Analyte("Bilirubine totale", "µmol/L", 4, 22, 0),
    ),
    "TSH": (Analyte("TSH", "mUI/L", 0.4, 4.5, 2),),
    "INR": (Analyte("INR", "", 1.0, 3.4, 1), Analyte("Taux de prothrombine", "%", 30, 100, 0)),
    "CRP": (Analyte("Protéine C réactive", "mg/L", 0.5, 60, 1),),
    "NT-proBNP": (Analyte("NT-proBNP", "pg/mL", 80, 2400, 0),),
    "Ferritine": (Analyte("Ferritine", "µg/L", 15, 300, 0),),
}
"""Panels of a biology report; values are drawn within (and a little beyond) the range."""

DRUGS: tuple[str, ...] = (
    "PARACÉTAMOL 1 g, 1 comprimé jusqu'à 3 fois par jour si douleur, 5 jours",
    "METFORMINE 1000 mg, 1 comprimé matin et soir, 3 mois",
    "RAMIPRIL 5 mg, 1 comprimé le matin, 3 mois",
    "BISOPROLOL 2,5 mg, 1 comprimé le matin, 3 mois",
    "ATORVASTATINE 20 mg, 1 comprimé le soir, 3 mois",
    "AMOXICILLINE 1 g, 1 comprimé matin et soir, 6 jours",
    "FUROSÉMIDE 40 mg, 1 comprimé le matin, 1 mois",
    "APIXABAN 5 mg, 1 comprimé matin et soir, 3 mois",
    "LÉVOTHYROXINE 75 µg, 1 comprimé à jeun, 3 mois",
    "OMÉPRAZOLE 20 mg, 1 gélule le matin, 1 mois",
    "SERTRALINE 50 mg, 1 comprimé le matin, 1 mois",
    "SALBUTAMOL 100 µg/dose, 2 bouffées si gêne respiratoire",
    "IBUPROFÈNE 400 mg, 1 comprimé 3 fois par jour pendant les repas, 3 jours",
    "CHOLÉCALCIFÉROL 100 000 UI, 1 ampoule buvable, à renouveler dans 3 mois",
    "INSULINE GLARGINE 100 UI/mL, 18 UI le soir, 3 mois",
    "AMLODIPINE 5 mg, 1 comprimé le matin, 3 mois",
)

IMAGING_EXAMS: tuple[tuple[str, str], ...] = (
    ("Radiographie thoracique de face", "Pas d'anomalie pleuro-parenchymateuse décelable."),
    ("Échographie abdominale", "Foie de taille normale, d'échostructure homogène. Pas de lithiase."),
    ("IRM du genou droit", "Fissure horizontale de la corne postérieure du ménisque interne."),
    ("Scanner thoracique sans injection", "Micronodule de 4 mm du lobe supérieur droit, à contrôler."),
    ("Échographie cardiaque transthoracique", "FEVG estimée à 45 %. Pas de valvulopathie significative."),
    ("Radiographie du poignet gauche", "Pas de trait de fracture visible."),
    ("Mammographie bilatérale de dépistage", "ACR 1 bilatéral. Contrôle dans le cadre du dépistage organisé."),
    ("Échographie pelvienne", "Utérus et ovaires d'aspect normal."),
    ("Scanner cérébral sans injection", "Pas de lésion hémorragique ni d'effet de masse."),
    ("Radiographie du rachis lombaire", "Discopathie L4-L5 modérée, sans listhésis."),
    ("Doppler veineux des membres inférieurs", "Pas de thrombose veineuse profonde ni superficielle."),
)  # fmt: skip

HOSPITAL_SERVICES: tuple[str, ...] = (
    "Cardiologie", "Médecine interne", "Chirurgie viscérale", "Pneumologie", "Gériatrie",
    "Chirurgie orthopédique", "Gastro-entérologie", "Neurologie",
)  # fmt: skip

CONSULT_REASONS: tuple[str, ...] = (
    "Renouvellement de traitement et suivi tensionnel.",
    "Toux fébrile depuis 4 jours.",
    "Douleurs lombaires mécaniques sans irradiation.",
    "Suivi du diabète de type 2.",
    "Asthénie et troubles du sommeil depuis un mois.",
    "Éruption cutanée prurigineuse des avant-bras.",
    "Céphalées récidivantes.",
    "Bilan annuel de prévention.",
    "Douleur de l'épaule droite après un effort.",
    "Contrôle après épisode infectieux ORL.",
    "Palpitations intermittentes.",
    "Certificat et examen de non contre-indication au sport.",
)

CONSULT_FINDINGS: tuple[str, ...] = (
    "Examen clinique sans particularité. Auscultation cardio-pulmonaire normale.",
    "TA 132/84 mmHg, FC 72/min, apyrétique. Abdomen souple et indolore.",
    "Poids stable. Pas d'œdème des membres inférieurs.",
    "Examen ORL : pharynx érythémateux, tympans normaux.",
    "Contracture paravertébrale lombaire, pas de signe neurologique déficitaire.",
    "Auscultation : quelques râles bronchiques à la base droite.",
    "Examen cutané : plaques érythémateuses finement squameuses.",
    "Glycémie capillaire au cabinet : 1,32 g/L.",
)

CONSULT_CONCLUSIONS: tuple[str, ...] = (
    "Poursuite du traitement habituel. Revoir dans 3 mois.",
    "Traitement symptomatique. Reconsulter si persistance au-delà de 7 jours.",
    "Bilan biologique prescrit, résultats à me communiquer.",
    "Avis spécialisé demandé.",
    "Kinésithérapie prescrite (10 séances).",
    "Éducation thérapeutique renforcée, objectifs discutés avec le patient.",
    "Arrêt de travail de 3 jours.",
)

HOSPITAL_LINES: tuple[str, ...] = (
    "Motif d'hospitalisation : décompensation cardiaque globale.",
    "Motif d'hospitalisation : pneumopathie communautaire.",
    "Motif d'hospitalisation : cholécystectomie programmée sous cœlioscopie.",
    "Motif d'hospitalisation : chute à domicile avec fracture du col fémoral.",
    "Motif d'hospitalisation : bilan d'altération de l'état général.",
    "Évolution favorable sous traitement, apyrexie depuis 48 heures.",
    "Suites opératoires simples, reprise du transit à J2.",
    "Ajustement du traitement diurétique, perte de poids de 3 kg.",
    "Sortie au domicile avec passage infirmier quotidien.",
    "Rendez-vous de consultation post-hospitalisation prévu à un mois.",
)

NURSING_LINES: tuple[str, ...] = (
    "Passage à domicile : pansement de l'ulcère de jambe réalisé, plaie propre.",
    "Surveillance glycémique : valeurs entre 1,10 et 1,80 g/L cette semaine.",
    "Préparation du pilulier hebdomadaire, bonne observance.",
    "Injection d'insuline réalisée, pas d'hypoglycémie signalée.",
    "Prise de tension : 128/78 mmHg. Poids : stable.",
    "Ablation des agrafes à J12, cicatrice propre.",
    "Patient autonome pour la toilette, aide à l'habillage.",
)

PSY_LINES: tuple[str, ...] = (
    "Suivi au centre médico-psychologique depuis deux ans.",
    "Épisode dépressif caractérisé d'intensité modérée, en rémission partielle.",
    "Pas d'idée suicidaire exprimée lors de l'entretien.",
    "Traitement antidépresseur bien toléré, poursuite à la même posologie.",
    "Troubles anxieux généralisés, prise en charge psychothérapeutique associée.",
    "Sommeil amélioré, reprise progressive des activités sociales.",
)

PSYCHOLOGY_LINES: tuple[str, ...] = (
    "Bilan réalisé en trois séances (entretiens et tests standardisés).",
    "Efficience intellectuelle dans la moyenne, fatigabilité attentionnelle.",
    "Vécu anxieux important en lien avec le contexte familial.",
    "Proposition d'un suivi psychologique hebdomadaire.",
)

GENETICS_LINES: tuple[str, ...] = (
    "Indication : antécédents familiaux de cancer du sein et de l'ovaire.",
    "Analyse par séquençage haut débit d'un panel de gènes de prédisposition.",
    "Aucun variant pathogène ou probablement pathogène identifié.",
    "Variant de signification incertaine, sans conséquence sur la prise en charge.",
    "Résultat remis lors d'une consultation de génétique dédiée.",
)

SOCIAL_LINES: tuple[str, ...] = (
    "Objectifs : maintien de l'autonomie, participation aux activités collectives.",
    "Accompagnement éducatif et scolaire adapté, réévaluation annuelle.",
    "Coordination avec la famille et l'équipe soignante.",
    "Aide administrative pour le renouvellement des droits.",
)

RESIDENCE_LINES: tuple[str, ...] = (
    "Nous attestons que la personne désignée ci-dessus réside dans notre établissement.",
    "Date d'entrée dans l'établissement précisée dans le dossier administratif.",
    "Attestation délivrée pour servir et valoir ce que de droit.",
)

EMERGENCY_LINES: tuple[str, ...] = (
    "Motif : douleur thoracique atypique. ECG et troponine négatifs.",
    "Motif : traumatisme de la cheville droite. Entorse bénigne, attelle.",
    "Motif : malaise sans perte de connaissance. Bilan rassurant.",
    "Motif : plaie du pouce gauche, suture par 3 points.",
    "Motif : crise d'asthme modérée, amélioration sous aérosols.",
    "Retour au domicile, consignes de surveillance remises.",
)

PHYSIO_LINES: tuple[str, ...] = (
    "Bilan initial : raideur de l'épaule, élévation antérieure à 110°.",
    "Douleur EVA 5/10 à l'effort, 2/10 au repos.",
    "Objectifs : récupération des amplitudes et renforcement musculaire.",
    "Après 10 séances : amplitudes subnormales, reprise des activités.",
)

DENTAL_LINES: tuple[str, ...] = (
    "Dents absentes : 18, 28, 38, 48.",
    "Obturation composite réalisée sur 36.",
    "Détartrage complet, conseils d'hygiène bucco-dentaire.",
    "Couronne céramo-métallique sur 46.",
)

PREGNANCY_LINES: tuple[str, ...] = (
    "Grossesse unique évolutive, terme prévu selon l'échographie du premier trimestre.",
    "Entretien prénatal précoce réalisé.",
    "Sérologies : toxoplasmose non immunisée, rubéole immunisée.",
    "Hauteur utérine conforme au terme, bruits du cœur fœtal perçus.",
    "Accouchement par voie basse, nouveau-né en bonne santé.",
)

CHILD_LINES: tuple[str, ...] = (
    "Croissance staturo-pondérale harmonieuse sur les courbes de référence.",
    "Développement psychomoteur adapté à l'âge.",
    "Vaccinations à jour selon le calendrier vaccinal.",
    "Examen visuel et auditif sans anomalie.",
    "Conseils donnés sur le sommeil et l'alimentation.",
)

SURGERY_LINES: tuple[str, ...] = (
    "Intervention réalisée sous anesthésie générale.",
    "Installation en décubitus dorsal, abord cœlioscopique.",
    "Hémostase soigneuse, pas de drainage.",
    "Pièce opératoire adressée en anatomopathologie.",
    "Durée opératoire : 55 minutes, pas d'incident.",
)

PATHOLOGY_LINES: tuple[str, ...] = (
    "Examen macroscopique : pièce de 4 x 2 cm.",
    "Examen microscopique : remaniements inflammatoires chroniques.",
    "Absence de lésion dysplasique ou tumorale.",
    "Conclusion : lésion bénigne, exérèse complète.",
)

SYNTHESIS_LINES: tuple[str, ...] = (
    "Antécédents : appendicectomie (1998), HTA depuis 2015.",
    "Allergies : pénicilline (urticaire).",
    "Facteurs de risque : tabagisme sevré, dyslipidémie.",
    "Traitement au long cours : voir ordonnance jointe.",
    "Points de vigilance : insuffisance rénale modérée, adapter les posologies.",
    "Dernière mise à jour du volet de synthèse médicale.",
)

CHRONIC_HISTORY: tuple[str, ...] = (
    "Diabète de type 2 depuis 2008, insulino-requérant depuis 2019.",
    "Insuffisance cardiaque à FEVG altérée (cardiopathie ischémique).",
    "Insuffisance rénale chronique stade 3b.",
    "Fibrillation atriale anticoagulée.",
)


# -- "Entourage et volontés" -------------------------------------------------------------------

FICTION_PHONE_PREFIXES: dict[str, tuple[str, ...]] = {
    "mobile": ("06 39 98",),
    "home": ("01 99 00",),
}
"""Phone number blocks the ARCEP reserves for works of fiction (never assigned to a
subscriber): seeded relatives get numbers from them only."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A kind of relative the seed may name (TRE_R216 code)."""

    code: str
    gender: str | None
    """The relative's gender (None: either)."""
    age_offset: tuple[int, int]
    """Relative's age minus the patient's, in years (range)."""
    same_family_name: float
    """Probability that the relative carries the patient's family name."""


RELATIONS_ADULT: tuple[Relation, ...] = (
    Relation("SPS", None, (-6, 6), 0.6),
    Relation("DAUC", "female", (-38, -22), 0.6),
    Relation("SONC", "male", (-38, -22), 0.8),
    Relation("SIS", "female", (-8, 8), 0.5),
    Relation("BRO", "male", (-8, 8), 0.9),
    Relation("FRND", None, (-10, 10), 0.0),
    Relation("NBOR", None, (-15, 15), 0.0),
    Relation("NIECE", "female", (-30, -18), 0.3),
)
"""Who an adult names as person of trust or relative to contact (spouse first)."""

RELATIONS_YOUNG_ADULT: tuple[Relation, ...] = (
    Relation("MTH", "female", (22, 38), 0.7),
    Relation("FTH", "male", (24, 40), 1.0),
    Relation("SPS", None, (-4, 4), 0.2),
    Relation("SIS", "female", (-6, 6), 0.8),
    Relation("BRO", "male", (-6, 6), 0.9),
    Relation("FRND", None, (-3, 3), 0.0),
)
"""Who a patient under 30 names."""

PARENTS: tuple[Relation, ...] = (
    Relation("MTH", "female", (22, 40), 0.7),
    Relation("FTH", "male", (24, 44), 1.0),
)
"""A minor's relatives to contact: her parents (a minor names no person of trust)."""

DIRECTIVES_LOCATIONS: tuple[str, ...] = (
    "Déposées dans Mon espace santé",
    "Confiées au médecin traitant",
    "Confiées à la personne de confiance",
    "Au domicile, dans le classeur des papiers médicaux",
    "Remises à l'EHPAD lors de l'admission",
    "Conservées par le notaire",
)
"""Where a patient says her advance directives are kept (she chooses; the law asks that a
physician can find them easily)."""
