"""The first journal schema: runs, decisions, orders, errors.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("config_fingerprint", sa.String(128), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("trading_day", "mode", "revision", name="uq_runs_revision"),
    )
    op.create_index("ix_runs_trading_day", "runs", ["trading_day"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False, unique=True),
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("regime", sa.String(32), nullable=True),
        sa.Column("decision_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("structure", sa.String(128), nullable=True),
        sa.Column("limit_price", sa.Float(), nullable=True),
        sa.Column("json", sa.Text(), nullable=False),
        sa.UniqueConstraint("decision_id", "index", name="uq_orders_index"),
    )
    op.create_index("ix_orders_decision_id", "orders", ["decision_id"])
    op.create_table(
        "errors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_errors_run_id", "errors", ["run_id"])


def downgrade() -> None:
    op.drop_table("errors")
    op.drop_table("orders")
    op.drop_table("decisions")
    op.drop_table("runs")
