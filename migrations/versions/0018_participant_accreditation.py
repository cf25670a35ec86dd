"""participants' profiles and logos, accreditation, the platform's CA

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:10:00

Hand-written. Columns are added to ``participants`` in batch mode: SQLite
copies the table, PostgreSQL alters it in place.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("description", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("accredited_at", sa.BigInteger(), nullable=True))

    op.create_table(
        "participant_logos",
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_participant_logos_participant_id_participants")
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_participant_logos")),
    )

    op.create_table(
        "accreditation_applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("open_participant_id", sa.String(length=36), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("reviewer_id", sa.String(length=64), nullable=True),
        sa.Column("rejection_reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_accreditation_applications_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accreditation_applications")),
        sa.UniqueConstraint("open_participant_id", name=op.f("uq_accreditation_applications_open_participant_id")),
    )
    with op.batch_alter_table("accreditation_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accreditation_applications_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "accreditation_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["accreditation_applications.id"],
            name=op.f("fk_accreditation_documents_application_id_accreditation_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accreditation_documents")),
    )
    with op.batch_alter_table("accreditation_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accreditation_documents_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "accreditation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["accreditation_applications.id"],
            name=op.f("fk_accreditation_events_application_id_accreditation_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accreditation_events")),
    )
    with op.batch_alter_table("accreditation_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accreditation_events_application_id"), ["application_id"], unique=False)

    op.create_table(
        "accreditation_certificates",
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.Column("jwt", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["accreditation_applications.id"],
            name=op.f("fk_accreditation_certificates_application_id_accreditation_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_accreditation_certificates_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_accreditation_certificates")),
    )
    with op.batch_alter_table("accreditation_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accreditation_certificates_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "issued_certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("not_before", sa.BigInteger(), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_issued_certificates_participant_id_participants")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_issued_certificates")),
    )
    with op.batch_alter_table("issued_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_certificates_participant_id"), ["participant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("issued_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_certificates_participant_id"))
    op.drop_table("issued_certificates")
    with op.batch_alter_table("accreditation_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accreditation_certificates_participant_id"))
    op.drop_table("accreditation_certificates")
    with op.batch_alter_table("accreditation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accreditation_events_application_id"))
    op.drop_table("accreditation_events")
    with op.batch_alter_table("accreditation_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accreditation_documents_application_id"))
    op.drop_table("accreditation_documents")
    with op.batch_alter_table("accreditation_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accreditation_applications_participant_id"))
    op.drop_table("accreditation_applications")
    op.drop_table("participant_logos")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("accredited_at")
        batch_op.drop_column("description")
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("contact_email")
