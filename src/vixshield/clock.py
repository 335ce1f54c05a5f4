"""The only source of "now" in VixShield.

Backtests use :class:`FixedClock`; live runs use :class:`SystemClock`. Nothing else in the
package may read the wall clock, so a backtest fully controls what a decision can see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from vixshield.errors import InvalidInputError


class Clock(Protocol):
    """Anything that can say what time it is, timezone-aware."""

    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock stopped at ``at`` (timezone-aware)."""

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidInputError(f"FixedClock needs a timezone-aware datetime, got {self.at!r}")

    def now(self) -> datetime:
        return self.at
