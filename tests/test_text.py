"""Text from data made safe to print and to put in Markdown."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import kept_build_result
from txpipe.outputs.reports import run_report_markdown
from txpipe.store.ledger import DeliveryRecord
from txpipe.text import markdown_cell, printable


def test_control_and_bidi_characters_are_escaped():
    assert printable("a\x1b]0;pwned\x07b\u202ec\nd") == "a\\x1b]0;pwned\\x07b\\u202ec\\nd"


@given(st.text())
def test_printable_text_holds_no_control_character(text):
    shown = printable(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or 0x202A <= ord(ch) <= 0x202E for ch in shown)


@given(st.text())
def test_a_markdown_cell_cannot_split_its_row_or_open_a_link(text):
    cell = markdown_cell(text)
    unescaped = cell.replace("\\\\", "")
    for special in "|[]()<>`":
        assert special not in unescaped.replace("\\" + special, "")


def test_the_run_report_shows_hostile_file_names_as_text():
    record = DeliveryRecord(
        batch_id="b",
        source="s",
        source_file="x](javascript:alert(1))|<img src=x onerror=y>.csv",
        sha256="0",
        received_at="",
        status="rejected",
        run_id="r",
        reason="bad | row\n# heading",
    )
    markdown = run_report_markdown([record], kept_build_result())
    rejected = markdown.split("## Rejected files")[1].strip().splitlines()
    assert len(rejected) == 3  # header, rule, one row: nothing split or added a line
    assert not re.search(r"(?<!\\)<img", markdown) and not re.search(r"(?<!\\)\]\(javascript", markdown)


def test_pages_show_control_and_bidi_characters_escaped():
    """validation.html (Jinja finalize) and the dashboard's data show ESC and a right-to-left override
    as escapes, as the command line does; our own markup passes untouched."""
    from markupsafe import Markup

    from txpipe.outputs.dashboard import render, templates
    from txpipe.text import printable_data

    hostile = "a\x1b[31m\u202eb"
    assert printable_data({"k\n": [hostile, 1, None]}) == {"k\\n": ["a\\x1b[31m\\u202eb", 1, None]}
    page = templates().from_string("<p>{{ value }}</p>{{ ours }}").render(value=hostile, ours=Markup("<b>\n</b>"))
    assert page == "<p>a\\x1b[31m\\u202eb</p><b>\n</b>"
    html = render({"nations": {}, "quality": {"deliveries": [{"source_file": hostile}]}})
    assert "\x1b" not in html and "\u202e" not in html
    assert '"source_file": "a\\\\x1b[31m\\\\u202eb"' in html  # JSON of the escaped text: shown as \x1b, \u202e
