"""disposal: incidents, plans, triggers, notifications, interlocks

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident_triggers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_incident_triggers_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_triggers')),
    sa.UniqueConstraint('code', name=op.f('uq_incident_triggers_code'))
    )
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('layer', sa.String(length=10), nullable=False),
    sa.Column('doc', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_plans_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('code', name=op.f('uq_plans_code'))
    )
    op.create_table('notification_prefs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('email', sa.String(length=300), nullable=True),
    sa.Column('webhook_url', sa.String(length=300), nullable=True),
    sa.Column('hours', sa.String(length=11), nullable=True),
    sa.Column('min_priority', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_prefs_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_prefs'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('hazard_source_id', sa.Integer(), nullable=True),
    sa.Column('location', sa.String(length=64), nullable=True),
    sa.Column('hazard_type', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('plans', sa.JSON(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('escalate_at', sa.BigInteger(), nullable=True),
    sa.Column('opened_at', sa.BigInteger(), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('acknowledged_at', sa.BigInteger(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['hazard_source_id'], ['hazard_sources.id'], name=op.f('fk_incidents_hazard_source_id_hazard_sources')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_incidents_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index('ix_incident_events_incident', ['incident_id', 'id'], unique=False)

    op.create_table('incident_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.BigInteger(), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('escalate_at', sa.BigInteger(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('done_at', sa.BigInteger(), nullable=True),
    sa.Column('done_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_tasks_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_tasks'))
    )
    with op.batch_alter_table('incident_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_tasks_incident_id'), ['incident_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.String(length=4000), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
    sa.Column('sent_at', sa.BigInteger(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('read_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_notifications_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('key', name=op.f('uq_notifications_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notifications_user', ['user_id', 'id'], unique=False)

    op.create_table('report_clocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=30), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('due_at', sa.BigInteger(), nullable=False),
    sa.Column('warned_at', sa.BigInteger(), nullable=True),
    sa.Column('overdue_at', sa.BigInteger(), nullable=True),
    sa.Column('reported_at', sa.BigInteger(), nullable=True),
    sa.Column('reported_by', sa.String(length=100), nullable=True),
    sa.Column('stopped_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_report_clocks_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_clocks'))
    )
    with op.batch_alter_table('report_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_clocks_incident_id'), ['incident_id'], unique=False)

    op.create_table('interlocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('second_person', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.BigInteger(), nullable=False),
    sa.Column('confirmed_by', sa.String(length=100), nullable=True),
    sa.Column('confirmed_at', sa.BigInteger(), nullable=True),
    sa.Column('second_by', sa.String(length=100), nullable=True),
    sa.Column('second_at', sa.BigInteger(), nullable=True),
    sa.Column('written_at', sa.BigInteger(), nullable=True),
    sa.Column('readback', sa.Float(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_interlocks_incident_id_incidents')),
    sa.ForeignKeyConstraint(['task_id'], ['incident_tasks.id'], name=op.f('fk_interlocks_task_id_incident_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interlocks'))
    )
    with op.batch_alter_table('interlocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interlocks_incident_id'), ['incident_id'], unique=False)

    op.create_table('notification_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_deliveries_notification_id_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries'))
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_deliveries_notification_id'), ['notification_id'], unique=False)

    op.create_table('incident_alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('raised_at', sa.BigInteger(), nullable=False),
    sa.Column('joined_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_incident_alarms_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_alarms_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_alarms')),
    sa.UniqueConstraint('alarm_id', 'raised_at', name=op.f('uq_incident_alarms_alarm_id'))
    )
    with op.batch_alter_table('incident_alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_alarms_incident_id'), ['incident_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incident_alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_alarms_incident_id'))

    op.drop_table('incident_alarms')
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_deliveries_notification_id'))

    op.drop_table('notification_deliveries')
    with op.batch_alter_table('interlocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interlocks_incident_id'))

    op.drop_table('interlocks')
    with op.batch_alter_table('report_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_clocks_incident_id'))

    op.drop_table('report_clocks')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user')
        batch_op.drop_index('ix_notifications_due')

    op.drop_table('notifications')
    with op.batch_alter_table('incident_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_tasks_incident_id'))

    op.drop_table('incident_tasks')
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_events_incident')

    op.drop_table('incident_events')
    op.drop_table('incidents')
    op.drop_table('notification_prefs')
    op.drop_table('plans')
    op.drop_table('incident_triggers')
