"""routed call ids 64-bit

One metering row per call the proxy answers: at platform scale the table
passes 2^31 rows, so its key (and the appeals' link to it) is 64 bits on
PostgreSQL, its sequence too. SQLite's integer key is 64 bits already.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 12:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.alter_column("routed_call_id", type_=sa.BigInteger(), existing_type=sa.Integer())
    if _postgresql():
        op.alter_column("routed_calls", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
        op.execute("ALTER SEQUENCE IF EXISTS routed_calls_id_seq AS BIGINT")


def downgrade():
    if _postgresql():
        op.execute("ALTER SEQUENCE IF EXISTS routed_calls_id_seq AS INTEGER")
        op.alter_column("routed_calls", "id", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.alter_column("routed_call_id", type_=sa.Integer(), existing_type=sa.BigInteger())
