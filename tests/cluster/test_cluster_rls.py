"""Row level security across the mesh: subscribers on nodes that do not hold the slot
receive exactly what the holder decided for them (column views, checks of the general
path made once, on the holder, failed bindings ended on their own node), in commit
order, and nothing another node's subscriber may not see travels to them."""
import uuid

from support.changes import binding, changes_until_marker, row_of, subscribe, system_error
from support.cluster import start_cluster
from support.phoenix import PhoenixClient, run

U1, U2 = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
ORG_A, ORG_B = str(uuid.UUID(int=100)), str(uuid.UUID(int=200))

SCHEMA = """
CREATE TABLE public.todos (id bigserial PRIMARY KEY, org_id uuid, title text, secret text);
GRANT SELECT ON public.todos TO authenticated;
GRANT SELECT (id, title) ON public.todos TO anon;
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE TABLE public.members (org_id uuid, user_id uuid);
GRANT SELECT ON public.members TO authenticated;
CREATE POLICY member ON public.todos FOR SELECT TO authenticated USING (
    org_id IN (SELECT m.org_id FROM public.members m WHERE m.user_id = auth.uid()));
CREATE POLICY everyone ON public.todos FOR SELECT TO anon USING (true);
CREATE TABLE public.marker (id serial PRIMARY KEY);
GRANT SELECT ON public.marker TO anon, authenticated;
"""


def test_subscribers_on_other_nodes_get_what_the_holder_decided(relay_factory, app_db, slot):
    db = app_db
    db.execute(SCHEMA)
    db.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)", (ORG_A, U1, ORG_B, U2))
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            node_args={"b": ["--no-replication"], "c": ["--no-replication"]})
    assert cluster.holder().node_id == "a"

    async def joined(relay, role, sub=None):
        token = relay.token(role=role, **({"sub": sub} if sub else {}))
        c = await PhoenixClient.open(relay, "2.0.0", token=token)
        topic, ids = await subscribe(c, [binding(), binding(table="marker")])
        return c, topic, ids

    async def body():
        one = await joined(cluster["b"], "authenticated", U1)
        anon = await joined(cluster["b"], "anon")
        two = await joined(cluster["c"], "authenticated", U2)
        for org, title in ((ORG_A, "a1"), (ORG_B, "b1"), (ORG_A, "a2"), (ORG_B, "b2")):
            db.execute("INSERT INTO todos (org_id, title, secret) VALUES (%s, %s, 's')", (org, title))
        got = await changes_until_marker(db, [(c, t) for c, t, _ in (one, anon, two)])
        assert [row_of(d)["title"] for d in got[0]] == ["a1", "a2"]
        assert all(row_of(d)["secret"] == "s" for d in got[0])
        assert [row_of(d)["title"] for d in got[1]] == ["a1", "b1", "a2", "b2"]
        assert all(set(row_of(d)) == {"id", "title"} for d in got[1]), got[1]
        assert all([c["name"] for c in d["columns"]] == ["id", "title"] for d in got[1])
        assert [row_of(d)["title"] for d in got[2]] == ["b1", "b2"]

        # A REVOKE ends anon's binding on node b, told there, and nowhere else.
        db.execute("REVOKE SELECT ON todos FROM anon")
        db.execute("INSERT INTO todos (org_id, title) VALUES (%s, 'a3')", (ORG_A,))
        assert "permission denied" in await system_error(anon[0], anon[1])
        got = await changes_until_marker(db, [(c, t) for c, t, _ in (one, anon, two)])
        assert [[row_of(d)["title"] for d in g] for g in got] == [["a3"], [], []]
        for node in ("b", "c"):
            assert cluster[node].metrics().get("realtime_rls_check_calls_total", 0) == 0, "only the holder checks"
        assert cluster["a"].metrics().get("realtime_rls_check_calls_total", 0) >= 1
    run(body())
