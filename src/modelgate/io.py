"""File helpers shared by the stages: atomic writes, canonical JSON, content digests.

Every output is written to a temporary file beside its target and renamed into place, so a stage
that fails leaves either the previous file or nothing, never half a file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # serving imports this module and must not pull pandas in
    import pandas as pd

SIGNIFICANT_DIGITS = 6


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path that replaces `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(0o644)
        tmp_path.replace(target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def rounded(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """Round computed floats (recursively) to significant digits, so JSON outputs stay short
    in diffs while a parity error of 4e-7 still reads as 4e-7. Floats that already are short
    decimals (up to 8 digits, like a chosen threshold of 0.1000004) are kept exactly."""
    if isinstance(value, float):
        if not math.isfinite(value) or float(f"{value:.8g}") == value:
            return value
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return rounded(value.item(), digits)
    return value


def dumps(payload: Any) -> str:
    return json.dumps(rounded(payload), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_json(target: Path, payload: Any) -> None:
    write_bytes(target, dumps(payload).encode("utf-8"))


class YAMLError(ValueError):
    """A YAML document (params.yaml, dvc.lock) that does not parse."""


def load_yaml(text: str | bytes) -> Any:
    """Parse YAML exactly as DVC does: ruamel.yaml's safe loader, YAML 1.2.

    `dvc exp run -S` rewrites params.yaml with ruamel's YAML 1.2 writer, which drops the quotes
    around `off`, `no` and `yes`; a YAML 1.1 reader (PyYAML) would then see booleans where DVC
    and the data contract mean strings (issue 9). ruamel.yaml.clib makes this the C parser.
    Imported here, not at module level: serving imports this module and has no ruamel.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError as RuamelError

    try:
        return YAML(typ="safe").load(text)
    except RuamelError as exc:
        raise YAMLError(str(exc)) from exc


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_frame(
    target: Path, frame: pd.DataFrame, writer: Callable[[pd.DataFrame, Path], None]
) -> None:
    with atomic_path(target) as tmp:
        writer(frame, tmp)


def write_parquet(target: Path, frame: pd.DataFrame) -> None:
    # No pandas index, a fixed writer: the same frame gives the same bytes, so dvc.lock holds.
    write_frame(target, frame, lambda f, p: f.to_parquet(p, index=False, engine="pyarrow"))


def write_csv(target: Path, frame: pd.DataFrame) -> None:
    write_frame(target, frame, lambda f, p: f.to_csv(p, index=False, float_format="%.6g"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
