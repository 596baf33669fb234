"""sensor-fault settings: expected interval (stale data) and flatline time

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        b.add_column(sa.Column('interval_s', sa.Float(), nullable=True))
        b.add_column(sa.Column('stale_intervals', sa.Integer(), nullable=False, server_default='3'))
        b.add_column(sa.Column('flatline_s', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        b.drop_column('flatline_s')
        b.drop_column('stale_intervals')
        b.drop_column('interval_s')
