"""Running label counts over a dataset read part by part.

Ingest's summary line and split's `reports/split.json` describe the label the same way: rows,
then positives and their share (binary) or the target's mean (regression). Counting as parts
go by keeps that true when the data is never in memory at once (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from modelgate.schema import FeatureSchema


def classes_of(labels: pd.Series) -> set[str]:
    """The label values present, as text (a category's values are its declared strings)."""
    return {str(c) for c in labels.dropna().unique()}


@dataclass
class Tally:
    schema: FeatureSchema
    rows: int = 0
    positives: int = 0
    target_sum: float = 0.0
    classes: set[str] = field(default_factory=set)  # binary: the label values seen

    def add(self, frame: pd.DataFrame) -> Tally:
        labels = frame[self.schema.target]
        self.rows += len(frame)
        if self.schema.task == "regression":
            self.target_sum += float(labels.sum())
        else:
            self.positives += int((labels == self.schema.positive_class).sum())
            self.classes.update(classes_of(labels))
        return self

    def summary(self) -> dict[str, int | float]:
        """The `reports/split.json` entry of one part."""
        if self.schema.task == "regression":
            return {"rows": self.rows, "target_mean": self.target_sum / self.rows}
        return {
            "rows": self.rows,
            "positives": self.positives,
            "positive_rate": self.positives / self.rows,
        }

    def label(self) -> str:
        """The label in words, for a stage's summary line."""
        if self.schema.task == "regression":
            return f"mean {self.schema.target} {self.target_sum / self.rows:.4g}"
        share = 100 * self.positives / self.rows
        return f"{self.positives} {self.schema.positive_class!r} ({share:.1f}%)"
