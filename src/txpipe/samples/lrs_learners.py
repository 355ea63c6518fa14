"""The learner pool of the synthetic LRS export: made-up names, partner nations and how each learner is
identified (``mbox``, ``account`` or ``mbox_sha1sum``), derived from the seed and the learner's number."""

from __future__ import annotations

import hashlib
import random
import unicodedata

from txpipe.reference import Reference
from txpipe.samples.lrs_vocab import LMS_HOME, dumps
from txpipe.samples.roster_vocab import PARTNER_WEIGHT

# Where account-identified learners have their account: mostly the JADL LMS, some partner platforms.
ACCOUNT_HOMES = (
    LMS_HOME,
    LMS_HOME,
    LMS_HOME,
    "https://moodle.partner.example.org",
    "https://ilias.partner.example.org",
)

FIRST = (
    "Giorgi",
    "Nino",
    "Ana",
    "Levan",
    "Mariam",
    "Aram",
    "Lilit",
    "Elnur",
    "Aysel",
    "Oleksandr",
    "Olena",
    "Ion",
    "Elena",
    "Aigerim",
    "Nursultan",
    "Dilnoza",
    "Timur",
    "Bakyt",
    "Youssef",
    "Amina",
    "Karim",
    "Leila",
    "Omar",
    "Fatima",
    "Noa",
    "Yossi",
    "Hiroshi",
    "Yuki",
    "Min-jun",
    "Seo-yeon",
    "Camila",
    "Andrés",
    "Liam",
    "Chloé",
    "Sean",
    "Aoife",
    "Lukas",
    "Anna",
    "Marko",
    "Jelena",
    "Emir",
    "Amra",
    "Batbayar",
    "Saraa",
    "Ahmed",
    "Zainab",
    "Mia",
    "Jack",
    "Zoë",
    "Sofía",
    "Björn",
    "Karin",
    "Mateusz",
    "Agnieszka",
    "Jan",
    "Eva",
    "Pierre",
    "Camille",
    "Tomás",
    "Siobhán",
)
LAST = (
    "Beridze",
    "Kapanadze",
    "Maisuradze",
    "Petrosyan",
    "Hovhannisyan",
    "Aliyev",
    "Mammadova",
    "Shevchenko",
    "Kovalenko",
    "Rusu",
    "Ceban",
    "Nurlanova",
    "Abenov",
    "Karimova",
    "Usmonov",
    "Toktogulov",
    "Benali",
    "El Amrani",
    "Haddad",
    "Mansour",
    "Al-Khalifa",
    "Al-Sabah",
    "Cohen",
    "Levi",
    "Tanaka",
    "Sato",
    "Kim",
    "Park",
    "Rodríguez",
    "Gómez",
    "Murphy",
    "O'Brien",
    "Gruber",
    "Huber",
    "Jovanović",
    "Petrović",
    "Hadžić",
    "Begić",
    "Bold",
    "Ganbaatar",
    "Khan",
    "Qureshi",
    "Smith",
    "Taylor",
    "Müller",
    "Schmid",
    "Nowak",
    "Kowalska",
    "Novák",
    "Dubois",
    "Lefèvre",
    "Andersson",
    "Virtanen",
    "Brown",
    "Wilson",
)

# Device-local offsets of learners whose content writes local time (fixed offsets, DST ignored).
NATION_OFFSET = {
    "GEO": 240,
    "ARM": 240,
    "AZE": 240,
    "ARE": 240,
    "OMN": 240,
    "UKR": 120,
    "MDA": 120,
    "ISR": 120,
    "EGY": 120,
    "JOR": 180,
    "IRQ": 180,
    "QAT": 180,
    "KWT": 180,
    "BHR": 180,
    "KAZ": 300,
    "UZB": 300,
    "TJK": 300,
    "TKM": 300,
    "PAK": 300,
    "KGZ": 360,
    "MNG": 480,
    "JPN": 540,
    "KOR": 540,
    "AUS": 600,
    "NZL": 720,
    "COL": -300,
    "CAN": -300,
    "USA": -300,
    "MAR": 60,
    "TUN": 60,
    "DZA": 60,
}
LOCAL_TIME_SHARE = 0.3

# A learner: (actor JSON, nation code, device offset in minutes or None for UTC).
Learner = tuple[str, str, int | None]


def _ascii(text: str) -> str:
    """A name folded to lower-case ASCII letters, digits and hyphens, as e-mail addresses and accounts write it."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


class Learners:
    """A pool of synthetic learners, each derived from (seed, number): the pool is not stored, only a bitmap
    of the learners seen in the file and a bounded cache of recent ones."""

    def __init__(self, reference: Reference, seed: int, size: int):
        nations = reference.nations.drop_duplicates("code", keep="last")
        nations = nations[nations["status"] != "suspended"]  # suspended partners send no one
        self.nations: list[str] = list(nations["code"])
        weights: list[int] = [PARTNER_WEIGHT[f] for f in nations["framework"]]
        self.cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.seed = seed
        self.size = size
        self.seen = bytearray(size)
        self.cache: dict[int, Learner] = {}

    def get(self, number: int) -> Learner:
        """Learner ``number``: (actor JSON, nation, device offset in minutes or None for UTC)."""
        if number in self.cache:
            return self.cache[number]
        r = random.Random(f"{self.seed}/learner/{number}")
        first, last = r.choice(FIRST), r.choice(LAST)
        name = f"{first} {last}"
        nation = r.choices(self.nations, cum_weights=self.cum)[0]
        kind = r.choices(("mbox", "account", "sha1"), (55, 38, 7))[0]
        actor: dict[str, object]
        mbox = f"mailto:{_ascii(first)}.{_ascii(last)}.{number}@example.org"
        if kind == "mbox":
            actor = {"objectType": "Agent", "name": name, "mbox": mbox}
        elif kind == "sha1":
            actor = {"objectType": "Agent", "name": name, "mbox_sha1sum": hashlib.sha1(mbox.encode()).hexdigest()}
        else:
            home = r.choice(ACCOUNT_HOMES)
            account = f"u{100000 + number}" if home == LMS_HOME else f"{_ascii(first)[:1]}{_ascii(last)}{number}"
            actor = {"objectType": "Agent", "name": name, "account": {"homePage": home, "name": account}}
        offset = NATION_OFFSET.get(nation) if r.random() < LOCAL_TIME_SHARE else None
        learner = (dumps(actor), nation, offset)
        if len(self.cache) >= 4096:  # bounded: learners recur, the pool does not live in memory
            self.cache.clear()
        self.cache[number] = learner
        return learner
