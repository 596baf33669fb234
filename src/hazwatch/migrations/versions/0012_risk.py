"""evaluation: risk points, hidden dangers

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hidden_dangers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('hazard_source_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.String(length=4000), nullable=True),
    sa.Column('grade', sa.String(length=10), nullable=False),
    sa.Column('found_by', sa.String(length=20), nullable=False),
    sa.Column('handling', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('responsible', sa.String(length=100), nullable=True),
    sa.Column('deadline', sa.BigInteger(), nullable=True),
    sa.Column('measures', sa.String(length=4000), nullable=True),
    sa.Column('funding', sa.Float(), nullable=True),
    sa.Column('contingency_plan', sa.String(length=4000), nullable=True),
    sa.Column('reported_by', sa.String(length=100), nullable=False),
    sa.Column('reported_at', sa.BigInteger(), nullable=False),
    sa.Column('closed_at', sa.BigInteger(), nullable=True),
    sa.Column('overdue_warned_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['hazard_source_id'], ['hazard_sources.id'], name=op.f('fk_hidden_dangers_hazard_source_id_hazard_sources')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_hidden_dangers_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hidden_dangers'))
    )
    with op.batch_alter_table('hidden_dangers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hidden_dangers_org_id'), ['org_id'], unique=False)

    op.create_table('risk_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('hazard_source_id', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('l', sa.Float(), nullable=False),
    sa.Column('e', sa.Float(), nullable=True),
    sa.Column('c', sa.Float(), nullable=True),
    sa.Column('s', sa.Integer(), nullable=True),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('colour', sa.String(length=10), nullable=False),
    sa.Column('explanation', sa.String(length=500), nullable=False),
    sa.Column('measures', sa.String(length=2000), nullable=True),
    sa.Column('assessed_by', sa.String(length=100), nullable=False),
    sa.Column('assessed_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['hazard_source_id'], ['hazard_sources.id'], name=op.f('fk_risk_points_hazard_source_id_hazard_sources')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_risk_points_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_points'))
    )
    with op.batch_alter_table('risk_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_points_org_id'), ['org_id'], unique=False)

    op.create_table('hidden_danger_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hidden_danger_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['hidden_danger_id'], ['hidden_dangers.id'], name=op.f('fk_hidden_danger_events_hidden_danger_id_hidden_dangers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hidden_danger_events'))
    )
    with op.batch_alter_table('hidden_danger_events', schema=None) as batch_op:
        batch_op.create_index('ix_hidden_danger_events_hd', ['hidden_danger_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('hidden_danger_events', schema=None) as batch_op:
        batch_op.drop_index('ix_hidden_danger_events_hd')

    op.drop_table('hidden_danger_events')
    with op.batch_alter_table('risk_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_points_org_id'))

    op.drop_table('risk_points')
    with op.batch_alter_table('hidden_dangers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hidden_dangers_org_id'))

    op.drop_table('hidden_dangers')
