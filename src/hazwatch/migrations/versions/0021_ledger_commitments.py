"""Ledger format 2: entries integrated from now on are published as salted commitments; the
entries already in the tree stay as they were published.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_state') as batch:
        batch.add_column(sa.Column('commit_from', sa.BigInteger(), server_default='0', nullable=False))
    # what is not yet in the tree is published in the new form too
    op.execute("UPDATE ledger_state SET commit_from = last_id + 1")


def downgrade() -> None:
    with op.batch_alter_table('ledger_state') as batch:
        batch.drop_column('commit_from')
