"""Session token families: a replayed refresh token ends the tokens of its own log-in only.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('family', sa.String(length=32), nullable=True))
        batch.create_index(batch.f('ix_api_tokens_family'), ['family'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_index(batch.f('ix_api_tokens_family'))
        batch.drop_column('family')
