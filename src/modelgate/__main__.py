"""`modelgate <command>`: the project's commands behind one entry point.

    modelgate adopt --data FILE.csv --target COLUMN [--positive VALUE] ...
    modelgate monitor --log DIR_OR_S3_PREFIX [--outcomes FILE] ...

Each command is a module with its own `main(argv) -> int`; this dispatcher imports only the one
asked for, so `modelgate monitor` never pays for the pipeline's heavier imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "adopt": ("modelgate.adopt.__main__", "profile a CSV into params.yaml and data/raw/"),
    "monitor": ("modelgate.monitor.__main__", "judge a window of logged predictions"),
    "retrain-pr": ("modelgate.retrain.__main__", "retrain on matured outcomes, on a PR branch"),
}


def _usage() -> str:
    lines = ["usage: modelgate <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"modelgate: unknown command {command!r}\n\n{_usage()}")
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
