"""sensor source (an OPC UA endpoint and node the server reads itself)

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        b.add_column(sa.Column('source', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sensors') as b:
        b.drop_column('source')
