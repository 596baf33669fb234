"""device-level alarms (communication loss): alarms.device_id, sensor_id nullable

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms') as b:
        b.alter_column('sensor_id', existing_type=sa.Integer(), nullable=True)
        b.add_column(sa.Column('device_id', sa.Integer(), nullable=True))
        b.create_foreign_key(op.f('fk_alarms_device_id_devices'), 'devices', ['device_id'], ['id'])
        b.create_unique_constraint(op.f('uq_alarms_device_id'), ['device_id', 'condition'])


def downgrade() -> None:
    op.execute("DELETE FROM alarm_journal WHERE alarm_id IN (SELECT id FROM alarms WHERE device_id IS NOT NULL)")
    op.execute("DELETE FROM alarms WHERE device_id IS NOT NULL")
    with op.batch_alter_table('alarms') as b:
        b.drop_constraint(op.f('uq_alarms_device_id'), type_='unique')
        b.drop_constraint(op.f('fk_alarms_device_id_devices'), type_='foreignkey')
        b.drop_column('device_id')
        b.alter_column('sensor_id', existing_type=sa.Integer(), nullable=False)
