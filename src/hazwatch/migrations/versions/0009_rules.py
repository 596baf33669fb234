"""compound rules and their alarms

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rules',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('code', sa.String(length=64), nullable=False, unique=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('orgs.id'), nullable=False),
        sa.Column('when', sa.String(length=2000), nullable=False),
        sa.Column('priority', sa.String(length=10), nullable=False),
    )
    with op.batch_alter_table('alarms') as b:
        b.add_column(sa.Column('rule_id', sa.Integer(), nullable=True))
        b.create_foreign_key(op.f('fk_alarms_rule_id_rules'), 'rules', ['rule_id'], ['id'])
        b.create_unique_constraint(op.f('uq_alarms_rule_id'), ['rule_id', 'condition'])


def downgrade() -> None:
    op.execute("DELETE FROM alarm_journal WHERE alarm_id IN (SELECT id FROM alarms WHERE rule_id IS NOT NULL)")
    op.execute("DELETE FROM alarms WHERE rule_id IS NOT NULL")
    with op.batch_alter_table('alarms') as b:
        b.drop_constraint(op.f('uq_alarms_rule_id'), type_='unique')
        b.drop_constraint(op.f('fk_alarms_rule_id_rules'), type_='foreignkey')
        b.drop_column('rule_id')
    op.drop_table('rules')
