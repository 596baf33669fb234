"""The ledger: entries, integration batches, record and telemetry seals, signed checkpoints, witness sizes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 04:39:48.159893
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_batches',
    sa.Column('first_idx', sa.BigInteger(), nullable=False),
    sa.Column('first_id', sa.BigInteger(), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('first_idx', name=op.f('pk_ledger_batches'))
    )
    with op.batch_alter_table('ledger_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_batches_first_id'), ['first_id'], unique=False)

    op.create_table('ledger_checkpoints',
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('cosigned', sa.Text(), nullable=True),
    sa.Column('published_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_ledger_checkpoints'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    op.create_table('ledger_heads',
    sa.Column('subject', sa.String(length=160), nullable=False),
    sa.Column('leaf', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_ledger_heads'))
    )
    op.create_table('ledger_records',
    sa.Column('tbl', sa.String(length=40), nullable=False),
    sa.Column('row', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tbl', 'row', name=op.f('pk_ledger_records'))
    )
    op.create_table('ledger_seals',
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('sensor_id', 'window_start', name=op.f('pk_ledger_seals'))
    )
    op.create_table('ledger_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.Column('sealed_until', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_state'))
    )
    op.create_table('ledger_witnesses',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ledger_witnesses'))
    )


def downgrade() -> None:
    op.drop_table('ledger_witnesses')
    op.drop_table('ledger_state')
    op.drop_table('ledger_seals')
    op.drop_table('ledger_records')
    op.drop_table('ledger_heads')
    op.drop_table('ledger_entries')
    op.drop_table('ledger_checkpoints')
    with op.batch_alter_table('ledger_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_batches_first_id'))

    op.drop_table('ledger_batches')
