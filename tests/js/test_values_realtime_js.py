"""realtime-js parses our values as it parses Supabase's: a table with a column of every
kind of type (tests/support/supabase_values.py), its rows inserted while a realtime-js
client (through a relay, which asks the plugin for arrays as JSON) listens; each value
realtime-js hands the application must equal what it makes of Supabase's record for the
same row (computed beforehand from wal2json on an identical table)."""
import json

from support.supabase_values import (COLUMNS, create_table, create_types, insert_statements,
                                     supabase_records, wal2json_changes)
from test_realtime_js import ROLE, create_role, run_scenario


def test_realtime_js_sees_our_values_as_it_sees_supabases(relay_factory, db):
    create_role(db)
    create_types(db)
    create_table(db, "rt_values")
    create_table(db, "rt_values_oracle")
    db.execute(f"GRANT SELECT ON rt_values TO {ROLE}")
    db.execute("SELECT pg_create_logical_replication_slot('w2j', 'wal2json')")
    for statement in insert_statements("rt_values_oracle"):
        db.execute(statement)
    expected = supabase_records(db, wal2json_changes(db, "w2j"), table="rt_values_oracle")
    assert sorted(expected) == [1, 2, 3]

    # The relay's walsender starts with these; the plugin pins its own settings.
    db.execute(f"ALTER DATABASE \"{db.name}\" SET TimeZone = 'Asia/Kolkata'")
    db.execute(f"ALTER DATABASE \"{db.name}\" SET DateStyle = 'SQL, DMY'")
    db.execute(f"ALTER DATABASE \"{db.name}\" SET IntervalStyle = 'iso_8601'")
    relay = relay_factory(db_dsn=db.dsn)
    summary = run_scenario("values.mjs", relay, db=db, env={
        "RT_TOKEN": relay.token(role=ROLE),
        "RT_TABLE": "rt_values",
        "RT_INSERTS": json.dumps(insert_statements("rt_values")),
        "RT_EXPECTED": json.dumps(expected),
    })
    assert summary["rows"] == 3 and sorted(summary["ids"]) == [1, 2, 3]
    assert summary["values_compared"] == 3 * (len(COLUMNS) + 1)
