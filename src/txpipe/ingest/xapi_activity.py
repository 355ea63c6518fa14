"""Which activity an xAPI statement is about, and the activity's title (README "xAPI sources").

An object is an activity when its ``objectType`` is absent (or null) or ``Activity``; any other (an
Agent, a Group, a StatementRef, a SubStatement) is not, and its statement is ignored, whatever id the
object carries. A record's title comes from its own statements, else from :class:`TitleBook`: the
first title the export gives its activity.

Statements are parsed JSON: nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from txpipe.ingest.xapi_rules import JsonObject, json_object, nonblank_text


def is_activity(target: object) -> bool:
    """Whether a statement's object (or a context activity) is an activity: objectType absent or Activity."""
    return isinstance(target, dict) and target.get("objectType") in (None, "Activity")


def title(target: object) -> str | None:
    """The activity's name, English first (en, en-US, en-GB, other en-*, then any language)."""
    definition = target.get("definition") if isinstance(target, dict) else None
    names = definition.get("name") if isinstance(definition, dict) else None
    if not isinstance(names, dict) or not names:
        return None
    ranked = sorted(
        names, key=lambda tag: (tag != "en", tag != "en-US", tag != "en-GB", not str(tag).startswith("en"), str(tag))
    )
    value = names[ranked[0]]
    return value.strip() or None if isinstance(value, str) else None


def _grouping(statement: JsonObject) -> list[object]:
    """The statement's ``context.contextActivities.grouping`` activities (one or a list)."""
    parents = json_object(json_object(statement, "context"), "contextActivities")
    grouping = parents.get("grouping")
    return grouping if isinstance(grouping, list) else [grouping]


def activity_of(statement: JsonObject, mapped: Container[str]) -> tuple[str | None, object]:
    """The activity a statement is about, and the activity object its title comes from: the object
    if the config maps it, else the first grouping activity (a cmi5 course) the config maps, else the
    object. None when the object is not an activity or has no id."""
    target = statement["object"]
    own = target["id"] if is_activity(target) and nonblank_text(target.get("id")) else None
    if own is None or own in mapped:
        return own, target
    for parent in _grouping(statement):
        if isinstance(parent, dict) and isinstance(parent.get("id"), str) and parent["id"] in mapped:
            return parent["id"], parent
    return own, target


class TitleBook:
    """The titles an export gives its activities: per activity IRI, the title of the first statement
    (in file order) that names it, as its object or as a grouping activity. Only statements that
    break no rule and are not voided are noted (used or ignored alike)."""

    def __init__(self) -> None:
        self._titles: dict[str, str] = {}

    def note(self, statement: JsonObject) -> None:
        for target in self._activities(statement):
            iri = target.get("id")
            if isinstance(iri, str) and iri not in self._titles and (name := title(target)):
                self._titles[iri] = name

    @staticmethod
    def _activities(statement: JsonObject) -> Iterator[JsonObject]:
        target = statement["object"]
        if is_activity(target):
            yield target
        for parent in _grouping(statement):
            if is_activity(parent):
                assert isinstance(parent, dict)
                yield parent

    def get(self, iri: str) -> str | None:
        return self._titles.get(iri)
