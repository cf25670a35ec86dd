"""participants

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 06:19:44.456414

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('participants',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('bin', sa.String(length=12), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('status_changed_at', sa.BigInteger(), nullable=True),
    sa.Column('status_reason', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('bin', name=op.f('uq_participants_bin'))
    )
    # Batch mode: SQLite cannot add a foreign key to an existing table, so the
    # table is copied into a new one there; PostgreSQL alters it in place.
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_oauth_clients_participant_id_participants'), 'participants', ['participant_id'], ['id'])


def downgrade():
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_oauth_clients_participant_id_participants'), type_='foreignkey')
        batch_op.drop_column('participant_id')

    op.drop_table('participants')
