"""security: passwords, token kinds and expiry, device credentials, append-only audit log,
org kind `region`

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "alarm_journal")


def upgrade() -> None:
    with op.batch_alter_table('users') as b:
        b.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))
        b.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('api_tokens') as b:
        b.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        b.add_column(sa.Column('device_id', sa.Integer(), nullable=True))
        b.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='api_key'))
        b.add_column(sa.Column('expires_at', sa.BigInteger(), nullable=True))
        b.add_column(sa.Column('revoked_at', sa.BigInteger(), nullable=True))
        b.add_column(sa.Column('mqtt_hash', sa.String(length=200), nullable=True))
        b.create_foreign_key(op.f('fk_api_tokens_device_id_devices'), 'devices', ['device_id'], ['id'])
    op.create_table(
        'audit_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('ts', sa.BigInteger(), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('actor_role', sa.String(length=30), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=60), nullable=False),
        sa.Column('object_type', sa.String(length=40), nullable=False),
        sa.Column('object_id', sa.String(length=100), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.Column('remote', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index(op.f('ix_audit_log_ts'), 'audit_log', ['ts'])
    op.create_index(op.f('ix_audit_log_org_id'), 'audit_log', ['org_id'])
    op.execute("UPDATE orgs SET kind = 'region' WHERE kind = 'regulator'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION hz_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
        for t in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION hz_append_only()")
            op.execute(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION hz_append_only()")
    else:
        for t in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{verb.lower()} BEFORE {verb} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
        op.execute("DROP FUNCTION IF EXISTS hz_append_only()")
    else:
        for t in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{verb}")
    op.execute("UPDATE orgs SET kind = 'regulator' WHERE kind = 'region'")
    op.drop_index(op.f('ix_audit_log_org_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_ts'), table_name='audit_log')
    op.drop_table('audit_log')
    with op.batch_alter_table('api_tokens') as b:
        b.drop_constraint(op.f('fk_api_tokens_device_id_devices'), type_='foreignkey')
        for c in ('mqtt_hash', 'revoked_at', 'expires_at', 'kind', 'device_id'):
            b.drop_column(c)
    with op.batch_alter_table('users') as b:
        b.drop_column('disabled')
        b.drop_column('password_hash')
