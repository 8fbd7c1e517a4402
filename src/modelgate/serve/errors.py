"""A client's mistake as the server reports it: an HTTP status and each row and field at fault.

Its own module so that the request checks (`schemas`) and the binary codec (`binary`) raise the
same error without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}" if self.row is not None else "", self.field or ""]
        prefix = ", ".join(w for w in where if w)
        return f"{prefix}: {self.message}" if prefix else self.message


class RequestError(ValueError):
    """A client's mistake: `status` is the HTTP status, `problems` each row and field at fault."""

    def __init__(self, status: int, message: str, problems: Sequence[Problem] = ()):
        self.status = status
        self.problems = list(problems)
        details = "; ".join(str(p) for p in self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        super().__init__(f"{message}: {details}{more}" if details else message)

    def body(self) -> dict[str, Any]:
        return {
            "error": str(self),
            "problems": [
                {"row": p.row, "field": p.field, "message": p.message} for p in self.problems
            ],
        }
