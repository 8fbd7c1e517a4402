"""Make a report written by the PR's own run fit to post: it may say anything, so it cannot
pose as the comment's watermark, reference anything but https, or exceed GitHub's limit.

Links are removed, not rewritten: a link or image whose target is not an https URL (a
relative or absolute path, `file:`, `http:`, anything else) keeps its text and loses its
target, so nothing local is referenced (CML, which this replaces, uploaded such files).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# GitHub refuses a longer comment: 422 "Body is too long (maximum is 65536 characters)".
LIMIT = 65_536
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use: they never survive from the input
_KEPT = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_DESTINATION = r"<[^<>\n]*>|(?:[^\s()]|\([^\s()]*\))*"
_TITLE = r"""(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?"""
_INLINE = re.compile(rf"(!?)\[([^\[\]]*)\]\(\s*({_DESTINATION}){_TITLE}\s*\)")
_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)[^\n]*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_TAG = re.compile(r"<[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>")
_URL_ATTRIBUTE = re.compile(
    r"""\s(href|src|srcset|action|formaction|poster|background|cite|data|ping|lowsrc|dynsrc|"""
    r"""xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)""",
    re.IGNORECASE,
)
_BARE_LINK = re.compile(r"\]\((?!\s*<?\s*https://)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def is_https(url: str) -> bool:
    """An absolute https URL with a host: the only target a comment may point at."""
    parts = urlsplit(url.strip().strip("<>").strip())
    return parts.scheme.lower() == "https" and bool(parts.hostname)


def drop_watermarks(text: str, watermark: str) -> str:
    """Every line that carries the watermark's text, however spaced or cased, is removed."""
    key = _squeeze(watermark.removeprefix("<!--").removesuffix("-->"))
    return "".join(line for line in text.splitlines(True) if key not in _squeeze(line))


def _squeeze(text: str) -> str:
    return re.sub(r"[\s\u200b-\u200d\u2060\ufeff]", "", text).lower()


def neutralize_links(text: str) -> str:
    """Links, images, reference definitions, autolinks and HTML URL attributes that do not
    target https lose their target; https ones are kept as written."""
    text = text.replace(_OPEN, "").replace(_CLOSE, "")
    kept: list[str] = []

    def inline(match: re.Match[str]) -> str:
        if not is_https(match.group(3)):
            return match.group(2)
        kept.append(match.group(0))
        return f"{_OPEN}{len(kept) - 1}{_CLOSE}"

    # Innermost first, so a kept image inside a link still lets the link be judged.
    while (replaced := _INLINE.sub(inline, text)) != text:
        text = replaced
    text = _DEFINITION.sub(lambda m: m.group(0) if is_https(m.group(1)) else "", text)
    text = _AUTOLINK.sub(lambda m: m.group(0) if is_https(m.group(1)) else "(link removed)", text)
    text = _TAG.sub(lambda m: _URL_ATTRIBUTE.sub(_attribute, m.group(0)), text)
    # Whatever `](` the patterns above did not parse can no longer open a link.
    text = _BARE_LINK.sub("] (", text)
    while _KEPT.search(text):
        text = _KEPT.sub(lambda m: kept[int(m.group(1))], text)
    return text


def _attribute(match: re.Match[str]) -> str:
    value = match.group(2).strip("\"'")
    candidates = value.split(",") if match.group(1).lower() == "srcset" else [value]
    urls = [c.split()[0] for c in candidates if c.strip()]
    return match.group(0) if urls and all(map(is_https, urls)) else ""


def _closers(head: str) -> str:
    fence = "```\n" if len(_FENCE.findall(head)) % 2 else ""
    unclosed = len(re.findall(r"<details\b", head)) - len(re.findall(r"</details>", head))
    return fence + "</details>\n" * max(unclosed, 0)


def cap(text: str, note: str, limit: int = LIMIT) -> str:
    """`text` cut at a line end to fit `limit` with `note` after it; an open code block or
    <details> is closed first, so the note renders as text."""
    if len(text) <= limit:
        return text
    room = limit - len(note) - 1
    while True:
        cut = text.rfind("\n", 0, room)
        head = text[: cut if cut > 0 else room]
        closed = f"{head}\n{_closers(head)}"
        if len(closed) + len(note) <= limit:
            return closed + note
        room -= len(closed) + len(note) - limit


def sanitize(report: str, watermark: str) -> str:
    return neutralize_links(drop_watermarks(report, watermark))
