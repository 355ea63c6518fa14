"""Nation names as the world writes them -> the codes of ``data/reference/nations.csv``.

The spellings come from well-kept data, not from a hand list:

- ISO 3166-1 through pycountry: alpha-2, alpha-3, short, official and common names, in English and,
  through the iso-codes translations pycountry ships, in French (NATO's other official language);
- CLDR's territory names in English and French through Babel ("South Korea", "Corée du Sud");
- the project's own ``nations.csv`` (codes and names) and ``nation_aliases.csv``, which holds only
  what those lack, each alias with its source.

Public lists write the same name in several shapes, and every spelling (known or delivered) is read
in each of them: the World Bank inverts and abbreviates ("Korea, Rep.", "Egypt, Arab Rep.",
"Gambia, The"), the UN and ISO add articles and move the state's form into brackets ("Netherlands
(the)", "Moldova (the Republic of)", "the Kingdom of Belgium"). Case, accents, punctuation, curly
apostrophes, articles and "of" (and their French forms) are ignored.

Never a wrong code: a folded name that two codes claim resolves to nothing, as do the names in
``AMBIGUOUS`` and anything not known (regional aggregates such as "Euro area", sub-national names
such as "Georgia (US state)"). Such rows are quarantined as ``nation_unknown``; a source config may
still alias them (``[aliases.nation]``).
"""

from __future__ import annotations

import difflib
import gettext
import re
import unicodedata
from collections.abc import Iterable, Iterator

# Names that stand for more than one country: never guessed, whatever a library says.
AMBIGUOUS = frozenset({"congo", "korea", "virgin islands"})

# Words that carry no identity in a country name (English and French articles, "of", "and").
_STOPWORDS = frozenset(
    {
        "the",
        "of",
        "and",
        "a",
        "an",
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "l",
        "d",
        "et",
        "s",  # the possessive of "People's" once the apostrophe is a space
    }
)
# Abbreviations of the World Bank and other statistical lists.
_ABBREVIATIONS = {
    "rep": "republic",
    "dem": "democratic",
    "fed": "federated",
    "sts": "states",
    "st": "saint",
    "ste": "sainte",
    "pdr": "peoples democratic republic",
    "rb": "bolivarian republic",
    "fyr": "former yugoslav republic",
    "sar": "special administrative region",
    "peoples": "people",
    "people": "people",
    "is": "islands",
    "isl": "islands",
}
_APOSTROPHES = str.maketrans({"\u2019": " ", "\u2018": " ", "'": " ", "`": " ", "\u00b4": " ", "\u02bc": " "})
_CODE = re.compile(r"^[A-Za-z]{2,3}$")
# "X (the Republic of)", "Netherlands (Kingdom of the)", "Pays-Bas (Royaume des)": the bracket is the state's form.
_FORM_IN_BRACKETS = re.compile(
    r"^(?P<name>[^()]+)\((?P<form>[^()]*\b(?:of|of the|de|des|du|de la|d)\s*)\)\s*$", re.IGNORECASE
)


def fold(value: str) -> str:
    """The lookup key of one spelling: case, accents, punctuation, articles and "of" ignored."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_APOSTROPHES))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = re.sub(r"[^a-z0-9]+", " ", plain).split()
    expanded = " ".join(_ABBREVIATIONS.get(w, w) for w in words).split()
    return " ".join(w for w in expanded if w not in _STOPWORDS)


def shapes(value: str) -> Iterator[str]:
    """The keys of a spelling in every shape public lists write it in."""
    text = " ".join(value.split())
    yield fold(text)
    if match := _FORM_IN_BRACKETS.match(text):  # "Moldova (the Republic of)" -> "the Republic of Moldova"
        text = f"{match['form']} {match['name']}"
        yield fold(text)
    if text.count(",") == 1:  # "Korea, Rep." -> "Rep. Korea"; "Tanzania, United Republic of"
        name, form = text.split(",")
        yield fold(f"{form} {name}")


def _pycountry_spellings() -> Iterator[tuple[str, str]]:
    import pycountry

    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if spelling := getattr(country, attr, None):
                yield spelling, country.alpha_3
                yield french.gettext(spelling), country.alpha_3


def _cldr_spellings() -> Iterator[tuple[str, str]]:
    import pycountry
    from babel import Locale

    for language in ("en", "fr"):
        for territory, spelling in Locale(language).territories.items():
            country = pycountry.countries.get(alpha_2=territory) if len(territory) == 2 else None
            if country is not None:  # regions ("001", "150") and groupings ("EU", "EZ", "UN") are no country
                yield spelling, country.alpha_3


def _library_codes() -> Iterator[tuple[str, str]]:
    import pycountry

    for country in pycountry.countries:
        yield country.alpha_2, country.alpha_3
        yield country.alpha_3, country.alpha_3


class NationNames:
    """Resolve delivered nation spellings; build once per run (about 0.2 s)."""

    def __init__(self, reference_names: Iterable[tuple[str, str]], aliases: Iterable[tuple[str, str]]) -> None:
        reference_names, aliases = list(reference_names), list(aliases)
        self.codes: dict[str, str] = {}  # an exact code, upper-case
        for spelling, code in [*_library_codes(), *((c, c) for _, c in reference_names)]:
            self.codes[spelling.upper()] = code
        claims: dict[str, set[str]] = {}
        for spelling, code in [*_pycountry_spellings(), *_cldr_spellings()]:
            for key in shapes(spelling):
                claims.setdefault(key, set()).add(code)
        self.names = {key: codes.pop() for key, codes in claims.items() if len(codes) == 1 and key not in AMBIGUOUS}
        library_codes = dict(self.codes)
        for spelling, code in [*reference_names, *aliases]:  # the project's own names win
            text = spelling.strip()
            if _CODE.match(text) and text.upper() == text:
                if library_codes.get(text, code) != code:
                    raise ValueError(f"nation alias {text} -> {code}: {text} is the ISO code of {library_codes[text]}")
                self.codes[text] = code
            for key in shapes(spelling):
                self.names[key] = code
        self.names.pop("", None)
        display = {code: name for name, code in reference_names}
        # Folded spelling -> "Georgia (GEO)", for every spelling of a reference nation (suggestions).
        self._labels = {key: f"{display[code]} ({code})" for key, code in self.names.items() if code in display}
        self._suggested: dict[str, list[str]] = {}

    def resolve(self, value: str) -> str | None:
        """The code for a spelling, or None when it is unknown or ambiguous."""
        text = value.strip()
        if _CODE.match(text) and text.upper() in self.codes:
            return self.codes[text.upper()]
        for key in shapes(text):
            if key in AMBIGUOUS:
                return None
            if key in self.names:
                return self.names[key]
        return None

    def suggestions(self, value: str, limit: int = 3) -> list[str]:
        """The closest reference nations to an unknown spelling, as "Georgia (GEO)" (each text once)."""
        key = fold(value)
        if key not in self._suggested:
            close = difflib.get_close_matches(key, list(self._labels), n=limit * 4, cutoff=0.75)
            self._suggested[key] = list(dict.fromkeys(self._labels[k] for k in close))
        return self._suggested[key][:limit]
