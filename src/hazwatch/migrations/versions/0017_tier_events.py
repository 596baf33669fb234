"""Tier events: what a regulator deployment received from the parks below it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25 07:24:06.766929
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tier_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('park', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_events')),
    sa.UniqueConstraint('park', 'kind', 'key', name=op.f('uq_tier_events_park'))
    )
    with op.batch_alter_table('tier_events', schema=None) as batch_op:
        batch_op.create_index('ix_tier_events_kind_ts', ['kind', 'ts'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tier_events', schema=None) as batch_op:
        batch_op.drop_index('ix_tier_events_kind_ts')

    op.drop_table('tier_events')
