"""Row-level validation shared by every loader: strict or report-and-skip, never silent.

A loader parses a file into a frame that keeps each row's 1-based line number in the source
file, runs its checks (vectorised: one boolean mask per rule), and calls :meth:`Problems.finish`.

* ``Mode.STRICT`` (the default) refuses the whole file on the first bad rows, with an error
  naming the file, line, field and value and saying what to do.
* ``Mode.SKIP`` drops the bad rows and returns them in a :class:`LoadReport`, so the caller
  can show exactly what was left out. Nothing is ever filled in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from vixshield.errors import DataError

MAX_LISTED: Final = 10  # problems quoted in one error message


class Mode(StrEnum):
    """What a loader does with a bad row."""

    STRICT = "strict"  # refuse the file
    SKIP = "skip"  # drop the row and report it


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One rejected value: where it is and why."""

    source: str
    line: int
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.source}, line {self.line}, field '{self.field}': {self.value!r} {self.message}"
        )


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a load read, kept and skipped."""

    source: str
    rows_read: int
    rows_kept: int
    skipped: tuple[RowProblem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def rows_skipped(self) -> int:
        return self.rows_read - self.rows_kept

    def summary(self) -> str:
        text = f"{self.source}: {self.rows_kept} of {self.rows_read} rows kept"
        if self.skipped:
            text += f", {self.rows_skipped} skipped (first: {self.skipped[0]})"
        return text


@dataclass(frozen=True, slots=True)
class Loaded:
    """A validated frame and the report of how it was loaded."""

    frame: pd.DataFrame
    report: LoadReport


@dataclass(slots=True)
class Problems:
    """Collects rejected values for one source file."""

    source: str
    items: list[RowProblem] = field(default_factory=list)

    def add(self, line: int, field_name: str, value: object, message: str) -> None:
        self.items.append(RowProblem(self.source, int(line), field_name, str(value), message))

    def check(
        self,
        bad: npt.NDArray[np.bool_] | pd.Series,
        *,
        lines: Sequence[int] | npt.NDArray[np.integer] | pd.Series,
        field_name: str,
        values: Sequence[object] | npt.NDArray[np.generic] | pd.Series,
        message: str,
    ) -> None:
        """Record every row where ``bad`` is true (vectorised rules call this once each)."""
        mask = np.asarray(bad, dtype=np.bool_)
        if not mask.any():
            return
        line_arr = np.asarray(lines)[mask]
        value_arr = np.asarray(values, dtype=object)[mask]
        for line, value in zip(line_arr, value_arr, strict=True):
            self.add(int(line), field_name, value, message)

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.items}

    def finish(
        self,
        frame: pd.DataFrame,
        *,
        mode: Mode,
        rows_read: int,
        line_column: str = "line",
        notes: Sequence[str] = (),
    ) -> Loaded:
        """Refuse (strict) or drop-and-report (skip) the rows with problems.

        ``frame[line_column]`` holds each row's line number in the source file; it is dropped
        from the returned frame.
        """
        ordered = tuple(sorted(self.items, key=lambda p: (p.line, p.field)))
        if ordered and mode is Mode.STRICT:
            listed = "\n  ".join(str(p) for p in ordered[:MAX_LISTED])
            more = (
                f"\n  ... and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
            )
            raise DataError(
                f"{self.source}: {len(ordered)} bad value(s); nothing was loaded.\n"
                f"  {listed}{more}\n"
                "Fix the file, or load it with mode='skip' (CLI: --skip-bad-rows) to drop "
                "these rows and get a report of what was skipped."
            )
        keep = ~frame[line_column].isin(self.bad_lines)
        kept = frame.loc[keep].drop(columns=[line_column]).reset_index(drop=True)
        report = LoadReport(
            source=self.source,
            rows_read=rows_read,
            rows_kept=len(kept),
            skipped=ordered,
            notes=tuple(notes),
        )
        return Loaded(frame=kept, report=report)
