"""Helpers for the output plugin's tests: a logical slot on the test database, read
through the SQL functions, and shortcuts for subscribing and reading documents."""
import json

ROW_TYPES = ("INSERT", "UPDATE", "DELETE")


class Slot:
    """A pg_realtime slot in a test database, read with pg_logical_slot_*_changes."""

    def __init__(self, db, name="rt_slot"):
        self.db = db
        self.name = name
        db.execute("SELECT pg_create_logical_replication_slot(%s, 'pg_realtime')", (name,))

    def _read(self, function, options):
        args = []
        for key, value in (options or {}).items():
            args += [key, str(value).lower() if isinstance(value, bool) else str(value)]
        return self.db.execute(
            f"SELECT lsn::text, data FROM {function}(%s, NULL, NULL, VARIADIC %s::text[])",
            (self.name, args))

    def get(self, **options):
        """Consumes and returns every pending document, parsed."""
        return [json.loads(data) for _, data in self._read("pg_logical_slot_get_changes", options)]

    def peek(self, **options):
        return [json.loads(data) for _, data in self._read("pg_logical_slot_peek_changes", options)]

    def get_raw(self, **options):
        """(lsn, text) pairs, for checks on the text itself."""
        return self._read("pg_logical_slot_get_changes", options)


def opts(**kwargs):
    """Plugin options from keyword arguments: include_unmatched -> include-unmatched."""
    return {key.replace("_", "-"): value for key, value in kwargs.items()}


def rows(docs):
    return [d for d in docs if d["type"] in ROW_TYPES]


def subscribe(db, node, table, filter=None, action="*", claims=None):
    return db.scalar("SELECT realtime.subscribe(%s, %s::regclass, %s, %s, %s::jsonb)",
                     (node, table, action, filter, json.dumps(claims or {})))


def targets_of(doc):
    """{node: sorted ids} of a document."""
    return {node: sorted(ids) for node, ids in doc["targets"].items()}
