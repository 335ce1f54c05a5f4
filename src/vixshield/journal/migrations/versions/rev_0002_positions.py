"""Positions: fills, book snapshots (legs and equities), marks and hedge activations.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# "right" is a reserved word on both backends: quoted in the CHECK text.
_RIGHT_IS_C_OR_P = "\"right\" IN ('C', 'P')"


def _contract_columns() -> list[sa.Column[Any]]:
    """root, expiry, strike, right: one option contract (multiplier 100)."""
    return [
        sa.Column("root", sa.String(8), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("strike", sa.Float(), nullable=False),
        sa.Column("right", sa.String(1), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("structure", sa.String(128), nullable=False),
        *_contract_columns(),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("fees_usd", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(_RIGHT_IS_C_OR_P, name="ck_fills_right"),
        sa.CheckConstraint("quantity <> 0", name="ck_fills_quantity"),
        sa.CheckConstraint("price >= 0", name="ck_fills_price"),
        sa.CheckConstraint("fees_usd >= 0", name="ck_fills_fees"),
    )
    op.create_index("ix_fills_trade_date", "fills", ["trade_date"])
    op.create_table(
        "position_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_position_snapshots_as_of", "position_snapshots", ["as_of"])
    op.create_table(
        "position_legs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "snapshot_id",
            sa.Integer(),
            sa.ForeignKey("position_snapshots.id"),
            nullable=False,
        ),
        sa.Column("structure", sa.String(128), nullable=False),
        *_contract_columns(),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("fill_price", sa.Float(), nullable=False),
        sa.Column("opened", sa.Date(), nullable=True),
        sa.Column("fees_usd", sa.Float(), nullable=False),
        sa.CheckConstraint(_RIGHT_IS_C_OR_P, name="ck_position_legs_right"),
        sa.CheckConstraint("quantity <> 0", name="ck_position_legs_quantity"),
        sa.CheckConstraint("fill_price >= 0", name="ck_position_legs_fill_price"),
        sa.CheckConstraint("fees_usd >= 0", name="ck_position_legs_fees"),
    )
    op.create_index("ix_position_legs_snapshot_id", "position_legs", ["snapshot_id"])
    op.create_table(
        "position_equities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "snapshot_id",
            sa.Integer(),
            sa.ForeignKey("position_snapshots.id"),
            nullable=False,
        ),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("shares", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("beta", sa.Float(), nullable=True),
    )
    op.create_index("ix_position_equities_snapshot_id", "position_equities", ["snapshot_id"])
    op.create_table(
        "marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("structure", sa.String(128), nullable=False),
        sa.Column("contract", sa.String(64), nullable=False),
        *_contract_columns(),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("fill_price", sa.Float(), nullable=False),
        sa.Column("mark", sa.Float(), nullable=False),
        sa.Column("vol", sa.Float(), nullable=True),
        sa.Column("value_usd", sa.Float(), nullable=False),
    )
    op.create_index("ix_marks_run_id", "marks", ["run_id"])
    op.create_table(
        "hedge_activations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("structure", sa.String(128), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("limit_price", sa.Float(), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("json", sa.Text(), nullable=False),
    )
    op.create_index("ix_hedge_activations_run_id", "hedge_activations", ["run_id"])
    op.create_index("ix_hedge_activations_session", "hedge_activations", ["session"])


def downgrade() -> None:
    op.drop_table("hedge_activations")
    op.drop_table("marks")
    op.drop_table("position_equities")
    op.drop_table("position_legs")
    op.drop_table("position_snapshots")
    op.drop_table("fills")
