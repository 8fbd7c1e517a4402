"""Edit a YAML document as a person would: a ruamel round-trip where every key adopt does not
change keeps its text and comments, and a changed value loses the comment that explained the
old one (a stale comment is worse than none)."""

from __future__ import annotations

import io as text_io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelgate.adopt.profile import AdoptError

COMMENT_COLUMN = 30  # where a new end-of-line comment starts, as in params.yaml
# Plain scalars a YAML 1.1 reader (PyYAML) would not read back as the same string.
YAML11_SPECIAL = re.compile(
    r"^(y|n|yes|no|on|off|true|false|null|~|[-+]?[0-9][0-9_.:eE+-]*|[-+]?\.(inf|nan))$", re.I
)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, key order and flow style survive
    yaml.width = 4096  # never re-wrap the hand-written long lines
    yaml.preserve_quotes = True
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def load_document(path: Path) -> Any:
    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AdoptError(f"cannot read params file {path}: {exc.strerror}") from exc


def dump_document(document: Any) -> str:
    stream = text_io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def assign(document: Any, dotted: str, value: Any, block: bool = False) -> None:
    """Set `dotted` (a.b.c) in `document`, creating missing mappings; `block` keeps a mapping's
    own keys one per line (short inner values stay in flow style)."""
    from ruamel.yaml.comments import CommentedMap

    parent, last = _parent(document, dotted)
    old = parent.get(last)
    if old == value:
        return  # unchanged: the hand-written text and its comments stay
    if block and isinstance(value, Mapping):
        new: Any = CommentedMap((k, _flow(v)) for k, v in value.items())
    else:
        new = _flow(value)
    if isinstance(old, CommentedMap) and isinstance(new, CommentedMap):
        _carry_comments(old, new)
    comment(parent, last, None)
    parent[last] = new


def comment(parent: Any, key: Any, text: str | None) -> None:
    """Replace `key`'s end-of-line comment with `text` (None: no comment); blank lines and
    comments printed after that line, which introduce what follows, stay."""
    from ruamel.yaml.error import CommentMark

    token = _token(parent, key)
    value = token.value if token is not None else "\n"
    rest = value.split("\n", 1)[1] if "\n" in value else ""
    if text is None and not rest:
        parent.ca.items.pop(key, None)
        return
    mark = CommentMark(_sibling_column(parent))
    _set_token(parent, key, (f"# {text}" if text else "") + "\n" + rest, mark)


def _sibling_column(parent: Any) -> int:
    """The column the other end-of-line comments of `parent` start at, so new ones align."""
    for key in parent:
        token = _token(parent, key)
        if token is not None and token.value.startswith("#"):
            return int(token.start_mark.column)
    return COMMENT_COLUMN


def comment_at(document: Any, dotted: str, text: str) -> None:
    parent, last = _parent(document, dotted)
    comment(parent, last, text)


def _parent(document: Any, dotted: str) -> tuple[Any, str]:
    from ruamel.yaml.comments import CommentedMap

    *parents, last = dotted.split(".")
    node = document
    for key in parents:
        if not isinstance(node.get(key), Mapping):
            node[key] = CommentedMap()
        node = node[key]
    return node, last


def _token(node: Any, key: Any) -> Any:
    slots = node.ca.items.get(key)
    return slots[2] if slots and len(slots) > 2 else None


def _set_token(node: Any, key: Any, text: str, mark: Any) -> None:
    from ruamel.yaml.tokens import CommentToken

    node.ca.items[key] = [None, None, CommentToken(text, mark), None]


def _deepest_last(node: Any) -> tuple[Any, Any]:
    """The mapping and key whose value is printed last inside `node`."""
    key = list(node)[-1]
    while isinstance(node[key], Mapping) and node[key] and not node[key].fa.flow_style():
        node = node[key]
        key = list(node)[-1]
    return node, key


def _carry_comments(old: Any, new: Any) -> None:
    """Keep the end-of-line comment of each key whose value did not change, and what `old`
    printed after its last line (ruamel attaches it to that last key, though it introduces
    the next section) after `new`'s last line."""
    if not old or not new:
        return
    for key in new:
        token = _token(old, key) if key in old and old[key] == new[key] else None
        if token is not None and token.value.startswith("#"):
            _set_token(new, key, token.value.split("\n", 1)[0] + "\n", token.start_mark)
    old_node, old_key = _deepest_last(old)
    token = _token(old_node, old_key)
    if token is None or "\n" not in token.value:
        return
    tail = token.value.split("\n", 1)[1]
    new_node, new_key = _deepest_last(new)
    mine = _token(new_node, new_key)
    _set_token(new_node, new_key, (mine.value if mine else "\n") + tail, token.start_mark)


def _flow(value: Any) -> Any:
    """Short mappings and lists in flow style, as the hand-written params.yaml has them."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, str) and (YAML11_SPECIAL.match(value) or value != value.strip()):
        return DoubleQuotedScalarString(value)
    if isinstance(value, Mapping):
        out = CommentedMap((k, _flow(v)) for k, v in value.items())
        if all(not isinstance(v, Mapping) for v in value.values()):
            out.fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return value
