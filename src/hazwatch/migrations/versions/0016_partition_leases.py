"""Partition leases: the fencing token a scale-out worker checks in each alarm transaction.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 07:12:08.427707
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partition_leases',
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('acquired_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('partition', name=op.f('pk_partition_leases'))
    )


def downgrade() -> None:
    op.drop_table('partition_leases')
