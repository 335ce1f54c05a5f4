"""The shared row validation: strict refuses with file/line/field/value, skip drops and reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vixshield.data.validation import Mode, Problems
from vixshield.errors import DataError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"line": [2, 3, 4, 5], "close": [10.0, -1.0, 12.0, np.nan]})


def _problems() -> Problems:
    frame = _frame()
    p = Problems("prices.csv")
    close = frame["close"].to_numpy()
    p.check(
        ~(close > 0),
        lines=frame["line"],
        field_name="close",
        values=close,
        message="must be a finite price > 0",
    )
    return p


def test_strict_refuses_and_names_file_line_field_value() -> None:
    with pytest.raises(DataError) as err:
        _problems().finish(_frame(), mode=Mode.STRICT, rows_read=4)
    text = str(err.value)
    assert "prices.csv: 2 bad value(s); nothing was loaded." in text
    assert "prices.csv, line 3, field 'close': '-1.0' must be a finite price > 0" in text
    assert "prices.csv, line 5, field 'close': 'nan'" in text
    assert "mode='skip'" in text


def test_skip_drops_bad_rows_and_reports_them() -> None:
    loaded = _problems().finish(_frame(), mode=Mode.SKIP, rows_read=4, notes=("a note",))
    assert loaded.frame["close"].tolist() == [10.0, 12.0]
    assert "line" not in loaded.frame.columns
    report = loaded.report
    assert (report.rows_read, report.rows_kept, report.rows_skipped) == (4, 2, 2)
    assert [p.line for p in report.skipped] == [3, 5]
    assert report.notes == ("a note",)
    assert report.summary().startswith("prices.csv: 2 of 4 rows kept, 2 skipped (first:")


def test_clean_file_passes_strict() -> None:
    frame = _frame().iloc[[0, 2]]
    loaded = Problems("ok.csv").finish(frame, mode=Mode.STRICT, rows_read=2)
    assert loaded.report.skipped == ()
    assert len(loaded.frame) == 2


def test_long_error_lists_ten_and_counts_the_rest() -> None:
    p = Problems("big.csv")
    for line in range(2, 27):
        p.add(line, "close", "x", "is not a number")
    with pytest.raises(DataError, match=r"\.\.\. and 15 more"):
        p.finish(pd.DataFrame({"line": list(range(2, 27))}), mode=Mode.STRICT, rows_read=25)
