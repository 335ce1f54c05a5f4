"""The journal's tables as SQLAlchemy 2 ORM models (the migrations create them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("journal timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 (the TypeDecorator API)
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("trading_day", "mode", "revision", name="uq_runs_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trading_day: Mapped[date] = mapped_column(Date, index=True)
    mode: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    config_text: Mapped[str] = mapped_column(Text)
    config_fingerprint: Mapped[str] = mapped_column(String(128))
    code_version: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    session: Mapped[date] = mapped_column(Date)
    regime: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decision_json: Mapped[str] = mapped_column(Text)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("decision_id", "index", name="uq_orders_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    layer: Mapped[str] = mapped_column(String(16))
    structure: Mapped[str | None] = mapped_column(String(128), nullable=True)
    limit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    json: Mapped[str] = mapped_column(Text)


class ErrorRow(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)


# -- positions: fills, book snapshots, marks, hedge activations (revision 0002) ----------------


class FillRow(Base):
    """One executed trade of one option contract (``quantity`` signed: + bought)."""

    __tablename__ = "fills"
    __table_args__ = (
        CheckConstraint("\"right\" IN ('C', 'P')", name="ck_fills_right"),
        CheckConstraint("quantity <> 0", name="ck_fills_quantity"),
        CheckConstraint("price >= 0", name="ck_fills_price"),
        CheckConstraint("fees_usd >= 0", name="ck_fills_fees"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trade_date: Mapped[date] = mapped_column(Date, index=True)
    structure: Mapped[str] = mapped_column(String(128))
    root: Mapped[str] = mapped_column(String(8))
    expiry: Mapped[date] = mapped_column(Date)
    strike: Mapped[float] = mapped_column(Float)
    right: Mapped[str] = mapped_column(String(1))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Float)
    fees_usd: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text)


class PositionSnapshotRow(Base):
    """The user's whole book as of a date (its legs and equities in the tables below)."""

    __tablename__ = "position_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    as_of: Mapped[date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text)


class PositionLegRow(Base):
    """An option leg of a snapshot; a structure's fees sit on its first leg (0 on the others)."""

    __tablename__ = "position_legs"
    __table_args__ = (
        CheckConstraint("\"right\" IN ('C', 'P')", name="ck_position_legs_right"),
        CheckConstraint("quantity <> 0", name="ck_position_legs_quantity"),
        CheckConstraint("fill_price >= 0", name="ck_position_legs_fill_price"),
        CheckConstraint("fees_usd >= 0", name="ck_position_legs_fees"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("position_snapshots.id"), index=True)
    structure: Mapped[str] = mapped_column(String(128))
    root: Mapped[str] = mapped_column(String(8))
    expiry: Mapped[date] = mapped_column(Date)
    strike: Mapped[float] = mapped_column(Float)
    right: Mapped[str] = mapped_column(String(1))
    quantity: Mapped[int] = mapped_column(Integer)
    fill_price: Mapped[float] = mapped_column(Float)
    opened: Mapped[date | None] = mapped_column(Date, nullable=True)
    fees_usd: Mapped[float] = mapped_column(Float)


class PositionEquityRow(Base):
    """An equity holding of a snapshot."""

    __tablename__ = "position_equities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("position_snapshots.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    shares: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    beta: Mapped[float | None] = mapped_column(Float, nullable=True)


class MarkRow(Base):
    """A leg of the book as a run's decision marked it (``decision.book["marks"]``)."""

    __tablename__ = "marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    structure: Mapped[str] = mapped_column(String(128))
    contract: Mapped[str] = mapped_column(String(64))
    root: Mapped[str] = mapped_column(String(8))
    expiry: Mapped[date] = mapped_column(Date)
    strike: Mapped[float] = mapped_column(Float)
    right: Mapped[str] = mapped_column(String(1))
    quantity: Mapped[int] = mapped_column(Integer)
    fill_price: Mapped[float] = mapped_column(Float)
    mark: Mapped[float] = mapped_column(Float)
    vol: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_usd: Mapped[float] = mapped_column(Float)


class HedgeActivationRow(Base):
    """A hedge-layer ``open`` or ``roll`` order of a succeeded run's decision."""

    __tablename__ = "hedge_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    session: Mapped[date] = mapped_column(Date, index=True)
    structure: Mapped[str | None] = mapped_column(String(128), nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    limit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    contracts: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text)
    json: Mapped[str] = mapped_column(Text)
