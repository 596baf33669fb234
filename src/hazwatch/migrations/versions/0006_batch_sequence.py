"""last accepted batch sequence per device credential (replay refusal)

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as b:
        b.add_column(sa.Column('last_sequence', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as b:
        b.drop_column('last_sequence')
