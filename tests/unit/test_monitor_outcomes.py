"""The outcomes file: read and checked whole (every problem named by line and column), then
joined to a window of logged decisions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelgate.cli import StageError
from modelgate.monitor.outcomes import MAX_LISTED, OutcomesError, join, read_outcomes

CLASSES = ("good", "bad")


def _write(tmp_path: Path, text: str, name: str = "outcomes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _read(path: Path) -> pd.DataFrame:
    return read_outcomes(path, CLASSES, "bad")


def _window(
    ids: list[str], rows: list[int] | None = None, times: list[str] | None = None
) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "request_id": ids,
            "row": rows or [0] * n,
            "time": pd.to_datetime(times or [f"2026-07-{i + 1:02d}T10:00:00Z" for i in range(n)]),
            "score": [0.1 * (i + 1) for i in range(n)],
            "decision": ["approve"] * n,
        }
    )


# --- reading ----------------------------------------------------------------------------------


def test_a_good_file_reads_into_labels_and_utc_dates(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "request_id,outcome,outcome_date,branch\n"
        "a,bad,2026-10-01,north\n"
        " b , good ,2026-10-02,south\n",  # stray spaces from a spreadsheet
    )

    out = _read(path)

    assert list(out.columns) == ["request_id", "row", "label", "outcome_date"]
    assert out["request_id"].tolist() == ["a", "b"]
    assert out["label"].tolist() == [1, 0]
    assert out["row"].isna().all()  # no row column: outcomes are per request
    assert out["outcome_date"].tolist() == [
        pd.Timestamp("2026-10-01", tz="UTC"),
        pd.Timestamp("2026-10-02", tz="UTC"),
    ]


def test_a_row_column_keys_outcomes_by_request_and_row(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "request_id,row,outcome,outcome_date\nbatch,0,bad,2026-10-01\nbatch,1,good,2026-10-01\n",
    )

    out = _read(path)

    assert out["row"].tolist() == [0, 1]
    assert out["label"].tolist() == [1, 0]


def test_a_header_alone_is_no_outcomes_yet(tmp_path: Path) -> None:
    out = _read(_write(tmp_path, "request_id,outcome,outcome_date\n"))

    assert out.empty
    assert list(out.columns) == ["request_id", "row", "label", "outcome_date"]


def test_a_missing_column_is_named_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "request_id,outcome\na,bad\n")

    with pytest.raises(OutcomesError, match=r"outcomes\.csv: no column 'outcome_date'") as err:
        _read(path)
    assert "it has 'request_id', 'outcome'" in str(err.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a,defaulted,2026-10-01", "line 3: outcome 'defaulted' is not one of good, bad"),
        ("a,bad,01/10/2026", "line 3: outcome_date '01/10/2026' is not a YYYY-MM-DD date"),
        ("a,bad,2026-02-30", "line 3: outcome_date '2026-02-30' is not a YYYY-MM-DD date"),
        ("a,bad,", "line 3: outcome_date '' is not a YYYY-MM-DD date"),
        (",bad,2026-10-01", "line 3: request_id '' is empty"),
        ("z,bad,2026-10-02", "line 3: request_id repeat line 2"),
    ],
)
def test_a_broken_line_is_named_by_line_field_and_value(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = _write(tmp_path, f"request_id,outcome,outcome_date\nz,good,2026-10-01\n{line}\n")

    with pytest.raises(OutcomesError) as err:
        _read(path)
    assert str(err.value) == f"outcomes file {path}: {expected}"


def test_bad_rows_and_repeated_request_rows_are_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "request_id,row,outcome,outcome_date\n"
        "a,0,bad,2026-10-01\na,-1,bad,2026-10-01\na,x,bad,2026-10-01\na,0,good,2026-10-01\n",
    )

    with pytest.raises(OutcomesError) as err:
        _read(path)
    message = str(err.value)
    assert "line 3: row '-1' is not a row index" in message
    assert "line 4: row 'x' is not a row index" in message
    assert "line 5: request_id and row repeat line 2" in message


def test_every_problem_is_listed_in_file_order_up_to_a_limit(tmp_path: Path) -> None:
    lines = [f"r{i},maybe,2026-10-01" for i in range(MAX_LISTED + 3)]
    path = _write(tmp_path, "request_id,outcome,outcome_date\n" + "\n".join(lines) + "\n")

    with pytest.raises(OutcomesError) as err:
        _read(path)
    message = str(err.value)
    assert message.index("line 2:") < message.index("line 3:") < message.index("line 11:")
    assert f"line {MAX_LISTED + 2}:" not in message
    assert message.endswith("and 3 more")


def test_an_unreadable_file_is_a_clear_error_that_exits_one(tmp_path: Path) -> None:
    with pytest.raises(OutcomesError, match="does not exist"):
        _read(tmp_path / "nope.csv")
    with pytest.raises(OutcomesError, match="is empty: it needs a header line"):
        _read(_write(tmp_path, ""))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("request_id,outcome,outcome_date\nJosé,bad,2026-10-01\n".encode("latin-1"))
    with pytest.raises(OutcomesError, match="is not a readable CSV"):
        _read(latin)
    assert issubclass(OutcomesError, StageError)  # cli.run turns it into exit code 1


# --- joining ----------------------------------------------------------------------------------


def _outcomes(tmp_path: Path, text: str) -> pd.DataFrame:
    return _read(_write(tmp_path, "request_id,outcome,outcome_date\n" + text))


def test_join_labels_known_decisions_and_counts_outcomes_of_no_decision(tmp_path: Path) -> None:
    window = _window(["a", "b", "c"])
    outcomes = _outcomes(tmp_path, "a,bad,2026-10-01\nc,good,2026-10-03\nold,bad,2026-10-01\n")

    joined = join(window, outcomes, "outcomes.csv")

    assert joined.frame["request_id"].tolist() == ["a", "b", "c"]
    assert joined.frame["label"].tolist()[::2] == [1.0, 0.0]
    assert pd.isna(joined.frame["label"].iloc[1])
    assert pd.isna(joined.frame["outcome_date"].iloc[1])
    assert joined.frame["score"].tolist() == window["score"].tolist()
    assert (joined.unmatched, joined.duplicates) == (1, 0)


def test_a_retried_request_counts_once_with_its_latest_decision(tmp_path: Path) -> None:
    times = ["2026-07-01T10:00:05Z", "2026-07-01T10:00:00Z", "2026-07-02T00:00:00Z"]
    window = _window(["a", "a", "b"], times=times)
    joined = join(window, _outcomes(tmp_path, "a,bad,2026-10-01\n"), "outcomes.csv")

    assert joined.frame["request_id"].tolist() == ["a", "b"]
    assert joined.frame["score"].iloc[0] == pytest.approx(0.1)  # logged 10:00:05, the later
    assert joined.duplicates == 1


def test_outcomes_per_request_cannot_label_a_multi_row_request(tmp_path: Path) -> None:
    window = _window(["batch", "batch", "solo"], rows=[0, 1, 0])

    with pytest.raises(OutcomesError, match="request 'batch' scored 2 rows"):
        join(window, _outcomes(tmp_path, "batch,bad,2026-10-01\n"), "outcomes.csv")
    # Outcomes of single-row requests alone are fine.
    joined = join(window, _outcomes(tmp_path, "solo,bad,2026-10-01\n"), "outcomes.csv")
    assert joined.frame["label"].isna().tolist() == [True, True, False]


def test_outcomes_with_rows_label_each_row_of_a_batch(tmp_path: Path) -> None:
    window = _window(["batch", "batch"], rows=[0, 1])
    path = _write(
        tmp_path,
        "request_id,row,outcome,outcome_date\nbatch,1,bad,2026-10-01\nbatch,2,bad,2026-10-01\n",
    )

    joined = join(window, _read(path), "outcomes.csv")

    assert joined.frame["label"].isna().tolist() == [True, False]
    assert joined.unmatched == 1  # row 2 of the batch was never logged


def test_no_outcomes_leave_every_decision_unknown(tmp_path: Path) -> None:
    joined = join(_window(["a", "b"]), _outcomes(tmp_path, ""), "outcomes.csv")

    assert joined.frame["label"].isna().all()
    assert joined.unmatched == 0
