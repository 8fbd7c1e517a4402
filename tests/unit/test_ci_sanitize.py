"""modelgate.ci.sanitize: a report from the PR's run cannot pose as the watermark, point at
anything but https, or exceed GitHub's comment limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelgate.ci import comment, sanitize
from modelgate.report import links


@pytest.mark.parametrize(
    "line",
    [
        comment.WATERMARK,
        "<!--modelgate:pr-comment-->",
        "x <!-- MODELGATE : PR-COMMENT --> y",
        "modelgate:\u200bpr-comment",
    ],
)
def test_every_imitation_of_the_watermark_is_dropped(line: str) -> None:
    assert sanitize.drop_watermarks(f"a\n{line}\nb\n", comment.WATERMARK) == "a\nb\n"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[a](../deepchecks/a.html)", "a"),
        ("[a](<reports/a b.html>)", "a"),
        ('![roc](/abs/roc.png "title")', "roc"),
        ("[x](file:///etc/passwd)", "x"),
        ("[x](http://example.com)", "x"),
        ("[x](javascript:alert(1))", "x"),
        ("[x](#anchor)", "x"),
        ("[x](https:///no-host)", "x"),
        ("[x](https://example.com/a_(b))", "[x](https://example.com/a_(b))"),
        ("[![i](https://i.example/b.svg)](./local)", "![i](https://i.example/b.svg)"),
        ("[![i](./i.png)](https://ok.example)", "[i](https://ok.example)"),
        ("[id]: ./local.html 'title'", ""),
        ("[id]: https://ok.example", "[id]: https://ok.example"),
        ("<file:///tmp/x.html>", "(link removed)"),
        ("<https://ok.example>", "<https://ok.example>"),
        ('<img src="x.png" alt="x">', '<img alt="x">'),
        ("<a href=./x.html>x</a>", "<a>x</a>"),
        ('<img srcset="https://a.example/1.png 1x, b.png 2x">', "<img>"),
        ('<img src="https://a.example/1.png">', '<img src="https://a.example/1.png">'),
        ("[x](a((b)))", "[x] (a((b)))"),  # not parsed here: then it cannot link at all
    ],
)
def test_links_keep_their_text_and_lose_a_target_that_is_not_https(
    markdown: str, expected: str
) -> None:
    assert sanitize.neutralize_links(markdown) == expected


def test_text_without_links_is_unchanged() -> None:
    text = (
        "## Gates\n\n| a | b |\n| --- | --- |\n\n```mermaid\nxychart-beta\n  line [0.1, 0.2]\n```\n"
    )
    assert sanitize.neutralize_links(text) == text


def test_the_reports_links_section_references_no_file() -> None:
    html = [Path("reports/deepchecks/model evaluation.html")]
    block = links.section(html, {})
    assert sanitize.neutralize_links(block) == block
    assert "reports/" not in block and "`deepchecks/model evaluation.html`" in block
    assert f"`{links.ARTIFACT}` artifact" in block


def test_a_long_body_is_capped_at_the_limit_with_a_note_and_closed_blocks() -> None:
    note = "\n> [!NOTE]\n> cut\n"
    text = "<details>\n<summary>s</summary>\n\n```mermaid\n" + "row\n" * 30_000
    capped = sanitize.cap(text, note)
    assert len(capped) <= sanitize.LIMIT
    assert capped.endswith("```\n</details>\n" + note)
    assert sanitize.cap("short", note) == "short"
    one_line = sanitize.cap("x" * 70_000, note)
    assert len(one_line) <= sanitize.LIMIT and one_line.endswith(note)
