"""alarm-flood control: floods, chattering, suppression with expiry and reason, first-out groups

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms') as b:
        b.add_column(sa.Column('suppressed_until', sa.BigInteger(), nullable=True))
        b.add_column(sa.Column('suppression', sa.String(length=20), nullable=True))
        b.add_column(sa.Column('chattering', sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column('first_out_id', sa.Integer(), nullable=True))
    op.execute("UPDATE alarms SET suppression = 'operator' WHERE suppressed")
    with op.batch_alter_table('sensors') as b:
        b.add_column(sa.Column('suppress_when', sa.String(length=2000), nullable=True))
    op.create_table(
        'alarm_floods',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('orgs.id'), nullable=False),
        sa.Column('started_at', sa.BigInteger(), nullable=False),
        sa.Column('ended_at', sa.BigInteger(), nullable=True),
        sa.Column('alarms', sa.Integer(), nullable=False),
        sa.Column('peak', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('alarm_floods')
    with op.batch_alter_table('sensors') as b:
        b.drop_column('suppress_when')
    with op.batch_alter_table('alarms') as b:
        for c in ('first_out_id', 'chattering', 'suppression', 'suppressed_until'):
            b.drop_column(c)
