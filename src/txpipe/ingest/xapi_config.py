"""A source config's ``[xapi]`` table: how an xAPI source's statements become records (README "xAPI sources")."""

from __future__ import annotations

from dataclasses import dataclass, field

from txpipe.ingest.xapi_rules import STRENGTH


@dataclass(frozen=True)
class XapiConfig:
    """A source config's ``[xapi]`` table (README "xAPI sources"); the names are a public interface."""

    nation: str | None = None  # one nation for the whole source
    nation_extension: str | None = None  # an IRI in context.extensions holding the learner's nation
    roster: str | None = None  # a CSV in the source folder: columns learner,nation
    activities: dict[str, str] = field(default_factory=dict)  # activity IRI -> catalogue activity_code
    verbs: dict[str, str] = field(default_factory=dict)  # verb IRI -> status (extends the default table)


def parse_xapi_config(table: object, origin: str = "<config>") -> XapiConfig:
    """The ``[xapi]`` table checked for names, types and values; a ValueError says what is wrong."""
    if not isinstance(table, dict):
        raise ValueError(f"{origin}: [xapi] must be a table")
    allowed = {"nation", "nation_extension", "roster", "activities", "verbs"}
    if unknown := set(table) - allowed:
        raise ValueError(f"{origin}: unknown key(s) {sorted(unknown)} in [xapi]; allowed: {sorted(allowed)}")
    for key in ("nation", "nation_extension", "roster"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise ValueError(f"{origin}: [xapi] {key} must be a non-blank string")
    roster = table.get("roster")
    if roster is not None and (roster != roster.strip() or any(c in roster for c in "/\\\0") or roster.startswith(".")):
        raise ValueError(f"{origin}: [xapi] roster must be a file name in the source folder (no folder, not hidden)")
    maps: dict[str, dict[str, str]] = {}
    for key in ("activities", "verbs"):
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{origin}: [xapi.{key}] must be a table of strings")
        maps[key] = dict(value)
    if bad := sorted(set(maps["verbs"].values()) - set(STRENGTH)):
        raise ValueError(f"{origin}: [xapi.verbs] maps to {bad}; a verb stands for one of {list(STRENGTH)}")
    return XapiConfig(
        table.get("nation"), table.get("nation_extension"), table.get("roster"), maps["activities"], maps["verbs"]
    )
