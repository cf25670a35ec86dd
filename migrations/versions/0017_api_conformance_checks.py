"""API publication through the sandbox: conformance check runs, health and lease columns
on published_apis, the participants' inbox

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:10:00

Written by hand. Columns are added in batch mode so SQLite (which cannot
ALTER a table much) gets the same schema as PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("published_apis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_changed_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("sandbox_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("description", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("sandbox_customer_iin", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("last_checked_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("last_check_passed", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("next_check_due_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("check_claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("check_lease_until", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_published_apis_next_check_due_at"), ["next_check_due_at"], unique=False)

    op.create_table(
        "api_check_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("api_id", sa.String(length=36), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("api_status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_id"], ["published_apis.id"], name=op.f("fk_api_check_runs_api_id_published_apis")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_check_runs")),
    )
    with op.batch_alter_table("api_check_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_check_runs_api_id"), ["api_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_check_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "participant_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_participant_notifications_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_notifications")),
    )
    with op.batch_alter_table("participant_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_notifications_participant_id"), ["participant_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("participant_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_notifications_participant_id"))
    op.drop_table("participant_notifications")

    with op.batch_alter_table("api_check_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_check_runs_started_at"))
        batch_op.drop_index(batch_op.f("ix_api_check_runs_api_id"))
    op.drop_table("api_check_runs")

    with op.batch_alter_table("published_apis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_apis_next_check_due_at"))
        for column in (
            "check_lease_until",
            "check_claimed_by",
            "next_check_due_at",
            "last_check_passed",
            "last_checked_at",
            "sandbox_customer_iin",
            "description",
            "sandbox_url",
            "status_changed_at",
        ):
            batch_op.drop_column(column)
