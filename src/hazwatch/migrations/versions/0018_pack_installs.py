"""Pack installs: which application pack, at which version and with which parameters, each
enterprise has.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:15:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pack_installs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('pack', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('rendered', sa.JSON(), nullable=False),
    sa.Column('applied_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_pack_installs_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pack_installs')),
    sa.UniqueConstraint('org_id', 'pack', name=op.f('uq_pack_installs_org_id'))
    )


def downgrade() -> None:
    op.drop_table('pack_installs')
