"""alarm journal by time

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain CREATE INDEX on every backend: no table rebuild for the journal
    op.create_index('ix_alarm_journal_ts', 'alarm_journal', ['ts'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alarm_journal_ts', table_name='alarm_journal')

