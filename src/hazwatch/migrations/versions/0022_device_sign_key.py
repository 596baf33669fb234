"""Device secrets: the batch-signing key is kept wrapped under a server-side key, apart from the
digest that recognises the secret.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('sign_key', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('sign_key')
