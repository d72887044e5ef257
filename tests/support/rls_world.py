"""The differential tests' world of row level security (tests/plugin and tests/relay):
a table `items` with policies of every shape the plugin handles (compiled ones, a
membership sub-select, a policy that raises for some claims, restrictive ones, FORCE on a
non-superuser owner, BYPASSRLS, role membership, TO roles and PUBLIC, column grants), its
twin with the same policies, and `oracle(image, users)`: Postgres' own answer (true,
false or "error") for a row image and each user, by SET ROLE + the claims' settings +
SELECT on the image inserted into the twin. Random users' claims and rows."""
import json
import uuid
from contextlib import closing

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


def random_row(rng, row_id):
    return (row_id, rng.choice(SUBS + [None]), rng.choice(ORGS + [None]), rng.choice(STATUSES),
            rng.choice([None, rng.randrange(0, 101)]), rng.choice([True, False, None]),
            f"note {rng.randrange(1000)}", f"secret {rng.randrange(1000)}")


def build_world(db):
    """The roles, members (empty), items and its twin, and oracle()."""
    db.execute(ROLES_SQL)
    db.execute("CREATE TABLE members (org uuid, user_id uuid); GRANT SELECT ON members TO authenticated")
    db.execute(TABLE_SQL.format(t="items"))
    db.execute(TABLE_SQL.format(t="twin"))
    db.execute(ORACLE_SQL)


def random_changes(db, rng, count):
    """Transactions of 1 to 5 random inserts, updates and deletes of items (ids 1-40),
    at least count changes in all; returns how many."""
    present = set()
    made = 0
    while made < count:
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
    """{user id: Postgres' answer} for the row image of a change document (its record,
    or old_record for a DELETE); users: dicts with id, role, claims and where (SQL)."""
    image = doc.get("record") if doc["type"] != "DELETE" else doc["old_record"]
    with conn.cursor() as cur:
        cur.execute("SELECT oracle(%s::jsonb, %s::jsonb)",
                    (json.dumps(image), json.dumps([{k: u[k] for k in ("id", "role", "claims", "where")}
                                                    for u in users])))
        answer = cur.fetchone()[0]
    conn.rollback()
    return {int(k): v for k, v in answer.items()}
