"""rate-of-change alarms and trend-to-limit early warnings per sensor

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        b.add_column(sa.Column('roc_limit', sa.Float(), nullable=True))
        b.add_column(sa.Column('roc_window_s', sa.Float(), nullable=False, server_default='60'))
        b.add_column(sa.Column('roc_deadband', sa.Float(), nullable=False, server_default='0'))
        b.add_column(sa.Column('trend_horizon_s', sa.Float(), nullable=True))
        b.add_column(sa.Column('trend_window_s', sa.Float(), nullable=False, server_default='600'))


def downgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        for c in ('trend_window_s', 'trend_horizon_s', 'roc_deadband', 'roc_window_s', 'roc_limit'):
            b.drop_column(c)
