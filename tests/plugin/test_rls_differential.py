"""Row level security, differentially against Postgres itself.

Seeded random rows, users (roles x claims x filters x select lists) and changes on a
table with policies of every shape the plugin handles: compiled ones (auth.uid(),
auth.jwt() ->> 'org', auth.role(), = ANY, ranges, booleans, restrictive ones), a
membership sub-select (the general path, evaluated by realtime.check_rows), a policy
that raises for some users' claims, FORCE ROW LEVEL SECURITY on a non-superuser owner,
BYPASSRLS, role membership, policies TO specific roles and PUBLIC, column grants.

For every committed change and every user, what the plugin's document gives the user
(targets, views, and checks as realtime.check_rows decides them) must be what Postgres
gives that user: SET ROLE + the claims' settings + SELECT ... WHERE id = <id> AND
<the user's filter> on that row image (inserted into a twin table with the same
policies), with exactly the columns the role may SELECT (narrowed by the select option,
primary key included). A user whose claims make a policy raise must be reported failed
and receive nothing, and Postgres must raise for it on some change.

RLS_SEED picks the seed (printed on failure); RLS_CASES scales the run.
"""
import json
import os
import random
import uuid
from contextlib import closing

import pytest

from .helpers import failed_of, recipients, subscribe_as

SEED = int(os.environ.get("RLS_SEED", "20261201"))
CHANGES = int(os.environ.get("RLS_CASES", "240"))
USERS = 40

SUBS = [str(uuid.UUID(int=i)) for i in range(1, 7)]
ORGS = [str(uuid.UUID(int=1000 + i)) for i in range(3)]
STATUSES = ["open", "review", "closed", "deleted", None]
COLUMNS = ["id", "owner", "org", "status", "score", "public", "note", "secret"]
ANON_COLUMNS = ["id", "status", "score", "public", "note"]
ROLES = ["anon", "authenticated", "authenticated", "authenticated", "rt_diff_staff",
         "rt_diff_clerk", "rt_diff_owner", "rt_diff_bypass", "service_role"]
FILTERS = [  # (Supabase filter, the same as SQL)
    (None, "true"),
    ("status=eq.open", "status = 'open'"),
    ("score=gt.20", "score > 20"),
    ("status=in.(open,review)", "status IN ('open', 'review')"),
]

ROLES_SQL = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rt_diff_staff') THEN
        CREATE ROLE rt_diff_staff NOLOGIN;
        CREATE ROLE rt_diff_clerk NOLOGIN IN ROLE rt_diff_staff;
        CREATE ROLE rt_diff_owner NOLOGIN;
        CREATE ROLE rt_diff_bypass NOLOGIN BYPASSRLS;
    END IF;
END $$"""

TABLE_SQL = """
CREATE TABLE {t} (id int PRIMARY KEY, owner uuid, org uuid, status text, score int,
                  public boolean, note text, secret text);
ALTER TABLE {t} REPLICA IDENTITY FULL;
ALTER TABLE {t} OWNER TO rt_diff_owner;
GRANT SELECT ON {t} TO authenticated, rt_diff_staff, rt_diff_bypass, service_role;
GRANT SELECT (id, status, score, public, note) ON {t} TO anon;
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON {t} FOR SELECT TO authenticated USING (owner = auth.uid());
CREATE POLICY org ON {t} FOR SELECT TO authenticated USING ((auth.jwt() ->> 'org')::uuid = org);
CREATE POLICY shown ON {t} FOR SELECT USING (public);
CREATE POLICY staff ON {t} FOR ALL TO rt_diff_staff
    USING (status = ANY (ARRAY['open', 'review']) OR score > 50 OR NOT public);
CREATE POLICY member ON {t} FOR SELECT TO authenticated USING (
    org IN (SELECT m.org FROM members m WHERE m.user_id = (SELECT auth.uid())));
CREATE POLICY alive ON {t} AS RESTRICTIVE FOR SELECT USING (status <> 'deleted' OR status IS NULL);
CREATE POLICY scored ON {t} AS RESTRICTIVE FOR SELECT TO rt_diff_bypass, rt_diff_owner
    USING (score IS DISTINCT FROM 13);
CREATE POLICY gate ON {t} AS RESTRICTIVE FOR SELECT TO authenticated
    USING (auth.role() = 'authenticated' OR public);
CREATE POLICY inserts ON {t} FOR INSERT TO anon WITH CHECK (true);
"""

# Postgres' own answer for one row image and every user: true, false or "error".
ORACLE_SQL = """
CREATE FUNCTION oracle(image jsonb, users jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    u      jsonb;
    seen   boolean;
    result jsonb := '{}';
BEGIN
    INSERT INTO twin SELECT * FROM jsonb_populate_record(NULL::twin, image);
    FOR u IN SELECT * FROM jsonb_array_elements(users) LOOP
        BEGIN
            PERFORM set_config('role', u->>'role', true),
                    set_config('request.jwt.claims', (u->'claims')::text, true),
                    set_config('request.jwt.claim.sub', coalesce(u->'claims'->>'sub', ''), true),
                    set_config('request.jwt.claim.role', coalesce(u->'claims'->>'role', ''), true);
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM twin WHERE id = %s AND (%s))',
                           image->>'id', u->>'where') INTO seen;
            result := result || jsonb_build_object(u->>'id', seen);
            RAISE EXCEPTION USING ERRCODE = 'RTORC';  -- undo the role and settings
        EXCEPTION
            WHEN SQLSTATE 'RTORC' THEN NULL;
            WHEN OTHERS THEN result := result || jsonb_build_object(u->>'id', 'error');
        END;
    END LOOP;
    RETURN result;
END $$;
"""


@pytest.fixture
def world(app_db):
    app_db.execute(ROLES_SQL)
    app_db.execute("CREATE TABLE members (org uuid, user_id uuid); "
                   "GRANT SELECT ON members TO authenticated")
    app_db.execute(TABLE_SQL.format(t="items"))
    app_db.execute(TABLE_SQL.format(t="twin"))
    app_db.execute(ORACLE_SQL)
    yield app_db
    app_db.execute("DROP TABLE items, twin; DROP FUNCTION oracle")


def random_claims(rng, role):
    claims = {"role": role}
    if rng.random() < 0.85:
        claims["sub"] = rng.choice(SUBS)
    roll = rng.random()
    if roll < 0.6:
        claims["org"] = rng.choice(ORGS)
    elif roll < 0.66:
        claims["org"] = "not-a-uuid"   # the org policy raises for this user
    return claims


def make_users(db, rng):
    users = []
    for n in range(USERS):
        role = rng.choice(ROLES) if n > 0 else "authenticated"
        claims = random_claims(rng, role) if n > 0 else {"role": role, "org": "not-a-uuid"}
        readable = ANON_COLUMNS if role == "anon" else COLUMNS
        filter_text, where = rng.choice(FILTERS)
        select = rng.choice([None, None, ["note"], ["status", "score"], ["owner", "secret"]])
        if select and not set(select) <= set(readable):
            select = None
        action = rng.choice(["*", "*", "*", "INSERT", "UPDATE", "DELETE"])
        sub = subscribe_as(db, "n", "items", claims, filter=filter_text, action=action,
                           select=select)
        columns = [c for c in readable if select is None or c in select or c == "id"]
        users.append({"id": sub, "role": role, "claims": claims, "where": where,
                      "action": action, "columns": sorted(columns)})
    return users


def random_row(rng, row_id):
    return (row_id, rng.choice(SUBS + [None]), rng.choice(ORGS + [None]), rng.choice(STATUSES),
            rng.choice([None, rng.randrange(0, 101)]), rng.choice([True, False, None]),
            f"note {rng.randrange(1000)}", f"secret {rng.randrange(1000)}")


def run_changes(db, rng):
    present = set()
    made = 0
    while made < CHANGES:
        statements = []
        for _ in range(rng.randrange(1, 6)):
            row_id = rng.randrange(1, 41)
            if row_id not in present:
                statements.append(("INSERT INTO items VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                                   random_row(rng, row_id)))
                present.add(row_id)
            elif rng.random() < 0.7:
                values = random_row(rng, row_id)
                statements.append(("UPDATE items SET owner=%s, org=%s, status=%s, score=%s, "
                                   "public=%s, note=%s WHERE id=%s", values[1:7] + (row_id,)))
            else:
                statements.append(("DELETE FROM items WHERE id = %s", (row_id,)))
                present.discard(row_id)
        with closing(db.connect(autocommit=False)) as conn, conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
            conn.commit()
        made += len(statements)
    return made


def oracle(db, conn, doc, users):
    image = doc.get("record") if doc["type"] != "DELETE" else doc["old_record"]
    with conn.cursor() as cur:
        cur.execute("SELECT oracle(%s::jsonb, %s::jsonb)",
                    (json.dumps(image), json.dumps([{k: u[k] for k in ("id", "role", "claims", "where")}
                                                    for u in users])))
        answer = cur.fetchone()[0]
    conn.rollback()
    return {int(k): v for k, v in answer.items()}


def expected_for(doc, user, answer):
    if user["action"] not in ("*", doc["type"]) or answer is not True:
        return None
    return user["columns"]


def test_plugin_agrees_with_postgres(world, slot):
    rng = random.Random(SEED)
    db = world
    for org in ORGS[:2]:
        db.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)",
                   (org, rng.choice(SUBS), org, rng.choice(SUBS)))
    users = make_users(db, rng)
    changes = run_changes(db, rng)
    # Two sessions, so that the second one starts from the positioned subscriptions.
    docs = slot.get(changes // 2, **{"include-unmatched": True})
    docs += slot.get(**{"include-unmatched": True})
    docs = [d for d in docs if d["type"] in ("INSERT", "UPDATE", "DELETE") and d["table"] == "items"]
    assert len(docs) == changes, f"seed {SEED}"

    failed = {}
    for d in docs:
        failed.update(failed_of(d))
    raised = set()
    cases = 0
    with closing(db.connect(autocommit=False)) as conn:
        for d in docs:
            answers = oracle(db, conn, d, users)
            got = recipients(db, d)
            for u in users:
                cases += 1
                if answers[u["id"]] == "error":
                    raised.add(u["id"])
                if u["id"] in failed:
                    assert u["id"] not in got, f"seed {SEED}: failed {u} received {d}"
                    continue
                assert got.get(u["id"]) == expected_for(d, u, answers[u["id"]]), (
                    f"seed {SEED}: user {u}\nPostgres: {answers[u['id']]}\ndocument: {d}")
    assert set(failed) <= raised, f"seed {SEED}: failed without Postgres raising"
    bad_claims = {u["id"] for u in users if u["claims"].get("org") == "not-a-uuid"
                  and u["role"] == "authenticated"}
    assert set(failed) == bad_claims, f"seed {SEED}"
    assert cases >= 5000
