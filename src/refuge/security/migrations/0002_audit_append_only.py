"""The database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on the audit table."""

from django.db import migrations

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS security_auditentry_no_update
       BEFORE UPDATE ON security_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS security_auditentry_no_delete
       BEFORE DELETE ON security_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS security_auditentry_no_update",
    "DROP TRIGGER IF EXISTS security_auditentry_no_delete",
]
POSTGRES_CREATE = [
    """CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END;
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER security_auditentry_no_change
       BEFORE UPDATE OR DELETE ON security_auditentry
       FOR EACH ROW EXECUTE FUNCTION security_auditentry_append_only()""",
    """CREATE TRIGGER security_auditentry_no_truncate
       BEFORE TRUNCATE ON security_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION security_auditentry_append_only()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS security_auditentry_no_change ON security_auditentry",
    "DROP TRIGGER IF EXISTS security_auditentry_no_truncate ON security_auditentry",
    "DROP FUNCTION IF EXISTS security_auditentry_append_only()",
]


def statements(vendor, *, create):
    if vendor == "postgresql":
        return POSTGRES_CREATE if create else POSTGRES_DROP
    if vendor == "sqlite":
        return SQLITE_CREATE if create else SQLITE_DROP
    raise RuntimeError(f"Refuge supports SQLite and PostgreSQL, not {vendor}")


def create_triggers(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, create=True):
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, create=False):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("security", "0001_keys_and_audit")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
