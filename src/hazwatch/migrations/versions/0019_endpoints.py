"""Registered field endpoints: the only controllers the server connects to or writes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_endpoints_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endpoints')),
    sa.UniqueConstraint('address', name=op.f('uq_endpoints_address')),
    sa.UniqueConstraint('code', name=op.f('uq_endpoints_code'))
    )


def downgrade() -> None:
    op.drop_table('endpoints')
