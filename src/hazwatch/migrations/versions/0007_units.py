"""units watched by multivariate detectors, and their alarms

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'units',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(length=64), nullable=False, unique=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('orgs.id'), nullable=False),
        sa.Column('hazard_source_id', sa.Integer(), sa.ForeignKey('hazard_sources.id'), nullable=True),
        sa.Column('model', sa.JSON(), nullable=False),
        sa.Column('priority', sa.String(length=10), nullable=False),
        sa.Column('clear_rows', sa.Integer(), nullable=False),
    )
    with op.batch_alter_table('alarms') as b:
        b.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        b.create_foreign_key(op.f('fk_alarms_unit_id_units'), 'units', ['unit_id'], ['id'])
        b.create_unique_constraint(op.f('uq_alarms_unit_id'), ['unit_id', 'condition'])


def downgrade() -> None:
    op.execute("DELETE FROM alarm_journal WHERE alarm_id IN (SELECT id FROM alarms WHERE unit_id IS NOT NULL)")
    op.execute("DELETE FROM alarms WHERE unit_id IS NOT NULL")
    with op.batch_alter_table('alarms') as b:
        b.drop_constraint(op.f('uq_alarms_unit_id'), type_='unique')
        b.drop_constraint(op.f('fk_alarms_unit_id_units'), type_='foreignkey')
        b.drop_column('unit_id')
    op.drop_table('units')
