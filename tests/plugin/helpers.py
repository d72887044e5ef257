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

    def _read(self, function, options, upto=None):
        args = []
        for key, value in (options or {}).items():
            args += [key, str(value).lower() if isinstance(value, bool) else str(value)]
        return self.db.execute(
            f"SELECT lsn::text, data FROM {function}(%s, NULL, %s, VARIADIC %s::text[])",
            (self.name, upto, args))

    def get(self, upto=None, **options):
        """Consumes and returns every pending document (or about upto of them: whole
        transactions), parsed."""
        return [json.loads(data)
                for _, data in self._read("pg_logical_slot_get_changes", options, upto)]

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


def subscribe_schema(db, node, schema, action="*", claims=None, select=None):
    return db.scalar("SELECT realtime.subscribe_schema(%s, %s, %s, %s::jsonb, %s)",
                     (node, schema, action, json.dumps(claims or {}), select))


def subscribe_as(db, node, table, claims, filter=None, action="*", select=None):
    """A subscription for a user (claims with its role), optionally with a select list."""
    return db.scalar("SELECT realtime.subscribe(%s, %s::regclass, %s, %s, %s::jsonb, %s)",
                     (node, table, action, filter, json.dumps(claims), select))


def failed_of(doc):
    """{id: message} of the subscriptions a document reports as failed."""
    return {f["id"]: f["message"] for fs in doc.get("failed", {}).values() for f in fs}


def check_rows(db, doc, check):
    """Evaluates one of a document's checks with realtime.check_rows, as the relay does:
    {id: error or None} of the candidates that pass or whose evaluation raised."""
    ids = [i for v in doc.get("views", []) if v.get("check") == check
           for ids in v["targets"].values() for i in ids]
    spec = doc["checks"][check]
    result = db.execute(
        "SELECT subscription_id, error FROM realtime.check_rows(%s, %s, %s, %s, %s, %s, %s)",
        (doc["schema"], doc["table"], spec["role"], spec["quals"], spec["per_user"],
         [doc["check_row"]], ids))
    return {i: e for i, e in result if i in ids}


def recipients(db, doc):
    """What the relay delivers for a document: {id: sorted columns it receives}, the
    candidates of checks included when realtime.check_rows lets them through (those whose
    evaluation raised are left out: the relay tells them, it delivers nothing)."""
    names = [c["name"] for c in doc["columns"]]
    out = {i: names for ids in doc["targets"].values() for i in ids}
    passed = {}
    for check in range(len(doc.get("checks", []))):
        passed.update({i: e for i, e in check_rows(db, doc, check).items() if e is None})
    for view in doc.get("views", []):
        columns = view.get("columns", names)
        for ids in view["targets"].values():
            for i in ids:
                if "check" not in view or i in passed:
                    out[i] = columns
    return {i: sorted(c) for i, c in out.items()}


def record_ids(docs, sub, db=None):
    """Primary keys (record, else old_record "id") of the documents sub receives."""
    got = []
    for d in docs:
        if sub in recipients(db, d):
            got.append((d.get("record") or d.get("old_record"))["id"])
    return got
