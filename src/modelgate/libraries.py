"""Write `libraries.yaml`: the locked version of every distribution, from `uv.lock`.

    python -m modelgate.libraries --lock uv.lock --out libraries.yaml

DVC reruns a stage when its deps or params change, and knows nothing of `uv.lock`. Each stage
therefore lists, as params of this file, the libraries its output bytes depend on
(`tests/unit/test_pipeline_deps.py` derives them from the stage's imports): a Dependabot bump of
xgboost makes train and what follows out of date, and `make ci-repro` then fails `lock-check`
until the pipeline is reproduced with the new version and dvc.lock committed. `make env`
rewrites the file whenever `uv.lock` changes. Standard library only: it runs before the venv.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

HEADER = "# Written by `make env` from uv.lock (python -m modelgate.libraries); do not edit.\n"


def normalize(name: str) -> str:
    """PEP 503 names, which are also valid DVC param keys (no dots)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_text: str) -> dict[str, str]:
    packages = tomllib.loads(lock_text).get("package", [])
    versions = {normalize(p["name"]): str(p["version"]) for p in packages if "version" in p}
    return dict(sorted(versions.items()))


def render(versions: dict[str, str]) -> str:
    # Quoted: a version such as 1.10 must stay the string "1.10", whatever reads the file.
    return HEADER + "".join(f'{name}: "{version}"\n' for name, version in versions.items())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=Path("uv.lock"))
    parser.add_argument("--out", type=Path, default=Path("libraries.yaml"))
    args = parser.parse_args(argv)
    text = render(locked_versions(args.lock.read_text(encoding="utf-8")))
    if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
