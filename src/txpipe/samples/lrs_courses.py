"""The courses of the synthetic LRS export: the catalogue's online activities as cmi5 courses of one to
three AUs (``<course IRI>/au/<n>``), a few of them bilingual, and the source config that maps them back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from txpipe.reference import Reference
from txpipe.samples.lrs_vocab import COURSE_BASE, NATION_EXTENSION, PROVIDER, TYPE_AU, TYPE_COURSE, dumps

# French titles of catalogue courses that are offered bilingually.
FRENCH_TITLES = {
    "ADL-169": "Améliorer l'efficacité opérationnelle en intégrant la perspective de genre",
    "ADL-073": "Code de conduite de l'OTAN",
    "ADL-201": "Introduction à l'intégrité",
    "ADL-190": "Protection des civils",
}
AU_TITLES = (
    ("Introduction", "Introduction"),
    ("Concepts and case studies", "Concepts et études de cas"),
    ("Final assessment", "Évaluation finale"),
)

# An AU: (IRI, its JSON as a statement object, assessed, its names by language).
AU = tuple[str, str, bool, dict[str, str]]


@dataclass(frozen=True)
class Course:
    code: str
    iri: str
    grouping: str  # the JSON of the course as a grouping context activity
    object: str  # the JSON of the course as a statement object
    aus: tuple[AU, ...]
    bilingual: bool


def language_map(en: str, fr: str | None) -> dict[str, str]:
    """A language map: English, and French where the course has it."""
    return {"en-US": en, "fr-FR": fr} if fr else {"en-US": en}


def online_courses(reference: Reference) -> list[tuple[str, str]]:
    """(activity_code, title) of the catalogue's online activities, in catalogue order."""
    online = reference.activities[reference.activities["delivery_mode"] == "online"]
    return list(zip(online["activity_code"], online["title"], strict=True))


def course_iri(code: str) -> str:
    """The cmi5 course IRI of a catalogue activity code."""
    return COURSE_BASE + code


def courses(reference: Reference) -> list[Course]:
    """Every online activity of the catalogue as a cmi5 course; raises ValueError when there is none."""
    found = []
    for code, title in online_courses(reference):
        iri = course_iri(code)
        fr = FRENCH_TITLES.get(code)
        course = {
            "objectType": "Activity",
            "id": iri,
            "definition": {"name": language_map(title, fr), "type": TYPE_COURSE},
        }
        found.append(
            Course(
                code=code,
                iri=iri,
                grouping=dumps(course),
                object=dumps(course),
                aus=_aus(code, iri, title, fr),
                bilingual=fr is not None,
            )
        )
    if not found:
        raise ValueError("the activity catalogue holds no online activity")
    return found


def _aus(code: str, iri: str, title: str, fr: str | None) -> tuple[AU, ...]:
    """The AUs of a course. The structure depends on the course only, not on the seed: 1 to 3 AUs, the last assessed."""
    n_aus = 1 + hashlib.sha256(code.encode()).digest()[0] % 3
    aus = []
    for n in range(1, n_aus + 1):
        en_part, fr_part = AU_TITLES[2] if n == n_aus and n_aus > 1 else AU_TITLES[min(n - 1, 1)]
        au_names = language_map(
            f"{title}: {en_part}" if n_aus > 1 else title,
            (f"{fr} : {fr_part}" if n_aus > 1 else fr) if fr else None,
        )
        au_iri = f"{iri}/au/{n}"
        au_object = dumps({"objectType": "Activity", "id": au_iri, "definition": {"name": au_names, "type": TYPE_AU}})
        aus.append((au_iri, au_object, n == n_aus, au_names))
    return tuple(aus)


def lrs_source_config(reference: Reference) -> str:
    """The TOML source config of the generated exports (``data/sources/jadl-lrs.toml``)."""
    lines = [
        "# JADL Learning Record Store: xAPI / cmi5 statement exports as JSON Lines.",
        "# Written by txpipe.samples.lrs.lrs_source_config; regenerate rather than edit by hand.",
        'description = "JADL e-learning: xAPI statements exported from the Learning Record Store"',
        'format = "xapi"',
        "",
        "[xapi]",
        f'nation_extension = "{NATION_EXTENSION}"',
        "",
        "[xapi.activities]          # cmi5 course IRI = catalogue activity_code (AUs are found through grouping)",
    ]
    lines += [f'"{course_iri(code)}" = "{code}"' for code, _ in online_courses(reference)]
    lines += ["", "[defaults]", f'provider = "{PROVIDER}"', ""]
    return "\n".join(lines)
