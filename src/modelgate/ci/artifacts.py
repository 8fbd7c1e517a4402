"""Where actions/upload-artifact v4 puts each file in an artifact, and where
actions/download-artifact v4 extracts it: the workflows' hand-off, computed so a test can check
it (the artifact of several paths used to be read at a path it never had).

The documented rules, as upload-artifact's README and src/shared/search.ts and @actions/glob
implement them:

- `path:` holds one pattern a line; blank lines and `#` lines are skipped; `!` excludes.
- A pattern's search path is its literal segments before the first with a wildcard. Search
  paths under another one are dropped.
- Several search paths: the artifact's root is their least common ancestor, segment by
  segment ("Exclude paths do not affect the directory structure"). One: that search path,
  except a single file named literally, which is rooted at its own directory.
- A matched directory brings everything under it; directories themselves are not uploaded.
- Hidden files and directories (a name starting with ".") are skipped unless
  `include-hidden-files` (v4.4.0 on) is true.
- download-artifact with `name:` extracts that one artifact straight into `path:`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_FILE, _DIRECTORY = 1, 2
_ALL = _FILE | _DIRECTORY
_WILDCARD = re.compile(r"[*?]|\[[^\]]{2,}\]")


@dataclass(frozen=True)
class _Pattern:
    negate: bool
    segments: tuple[str, ...]  # absolute: the first segment is "/"
    directories_only: bool

    @property
    def search_path(self) -> Path:
        literal = []
        for segment in self.segments:
            if segment == "**" or _WILDCARD.search(segment):
                break
            literal.append(segment)
        return Path(*literal)

    def match(self, path: Path) -> int:
        if not _match_segments(self.segments, path.parts):
            return 0
        return _DIRECTORY if self.directories_only else _ALL


def _match_segments(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_segments(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    if not parts or not _segment(pattern[0], parts[0]):
        return False
    return _match_segments(pattern[1:], parts[1:])


def _segment(pattern: str, name: str) -> bool:
    return pattern == name or fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def parse(path_input: str, workdir: Path) -> list[_Pattern]:
    """The patterns of an upload step's `path:` input, each with its implicit `/**` twin."""
    patterns = []
    for line in path_input.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = False
        while line.startswith("!"):
            negate, line = not negate, line[1:].strip()
        absolute = Path(line).expanduser()
        absolute = absolute if absolute.is_absolute() else workdir / absolute
        segments = tuple(p for p in absolute.parts if p != ".")
        if ".." in segments:
            raise ValueError(f"{line!r}: @actions/glob refuses '..' in a pattern")
        patterns.append(_Pattern(negate, segments, line.endswith("/")))
        if line.endswith("/") or segments[-1] != "**":
            patterns.append(_Pattern(negate, (*segments, "**"), False))
    return patterns


def _search_paths(patterns: list[_Pattern]) -> list[Path]:
    candidates = [p.search_path for p in patterns if not p.negate]
    kept: list[Path] = []
    for path in candidates:
        if path not in kept and not any(a in candidates for a in path.parents):
            kept.append(path)
    return kept


def _common_ancestor(paths: list[Path]) -> Path:
    common: list[str] = []
    for parts in zip(*(p.parts for p in paths), strict=False):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    return Path(*common)


def _matches(patterns: list[_Pattern], path: Path) -> int:
    result = 0
    for pattern in patterns:
        result = result & ~pattern.match(path) if pattern.negate else result | pattern.match(path)
    return result


def _files(patterns: list[_Pattern], roots: list[Path], include_hidden: bool) -> list[Path]:
    found, stack = [], list(reversed(roots))
    while stack:
        path = stack.pop()
        if (not include_hidden and path.name.startswith(".")) or not path.exists():
            continue
        if path.is_dir():
            stack.extend(sorted(path.iterdir(), reverse=True))
        elif _matches(patterns, path) & _FILE:
            found.append(path)
    return found


def upload_layout(
    path_input: str, workdir: Path, *, include_hidden: bool = False
) -> dict[PurePosixPath, Path]:
    """Each file the upload step puts in the artifact: its path in the artifact -> its source.

    `workdir` is where the step runs (the workspace); an empty result is "no files found".
    """
    workdir = workdir.resolve()
    patterns = parse(path_input, workdir)
    roots = _search_paths(patterns)
    files = _files(patterns, roots, include_hidden)
    if len(roots) > 1:
        root = _common_ancestor(roots)
    elif len(files) == 1 and files[0] == roots[0]:
        root = files[0].parent
    else:
        root = roots[0]
    return {PurePosixPath(f.relative_to(root).as_posix()): f for f in files}


def download_paths(layout: dict[PurePosixPath, Path], path: str, workdir: Path) -> set[Path]:
    """Where download-artifact (one artifact, by name) writes each file of `layout`."""
    destination = Path(path).expanduser()
    destination = destination if destination.is_absolute() else workdir / destination
    return {destination / inside for inside in layout}
