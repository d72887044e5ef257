"""Compatibility with @supabase/realtime-js: each test starts what its scenario needs (a
relay, and for Postgres Changes a fresh database), then runs one Node scenario script from
this folder against it with realtime-js from npm (tests/js/package-lock.json).

The driver and its protocol with a scenario (see harness.mjs) are in
tests/support/realtime_js.py.

Needs `npm ci` in tests/js first (`make test-js` does it).
"""
import pytest
from support.pg import wait_until
from support.realtime_js import endpoint, require_node, run_scenario

ROLE = "authenticated"


@pytest.fixture(scope="module", autouse=True)
def node_ready():
    require_node()


def create_role(db):
    db.execute(f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
                   EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")


# -- broadcast --------------------------------------------------------------------------

BROADCAST_CASES = [
    # (vsn a, vsn b, self, ack, endpoint path)
    ("default", "default", False, False, "/socket"),
    ("default", "default", True, False, "/socket"),
    ("default", "default", False, True, "/socket"),
    ("default", "default", True, True, "/socket"),
    ("1.0.0", "1.0.0", False, False, "/socket"),
    ("1.0.0", "1.0.0", True, False, "/socket"),
    ("1.0.0", "1.0.0", False, True, "/socket"),
    ("1.0.0", "1.0.0", True, True, "/socket"),
    ("2.0.0", "1.0.0", False, False, "/socket"),
    ("1.0.0", "2.0.0", True, True, "/socket"),
    ("default", "default", False, False, "/realtime/v1"),
    ("1.0.0", "1.0.0", True, True, "/realtime/v1"),
]


@pytest.mark.parametrize("vsn_a,vsn_b,self_,ack,path", BROADCAST_CASES,
                         ids=[f"{a}-{b}-self{int(s)}-ack{int(k)}-{p.strip('/').replace('/', '_')}"
                              for a, b, s, k, p in BROADCAST_CASES])
def test_broadcast(relay_factory, vsn_a, vsn_b, self_, ack, path):
    relay = relay_factory()
    summary = run_scenario("broadcast.mjs", relay, env={
        "RT_ENDPOINT": endpoint(relay, path),
        "RT_VSN_A": vsn_a, "RT_VSN_B": vsn_b, "RT_SELF": str(int(self_)), "RT_ACK": str(int(ack))})
    # realtime-js keeps the socket's query string (apikey, vsn) on the REST URL.
    rest_url = summary["rest_endpoint"].split("?")[0]
    assert rest_url == f"http://127.0.0.1:{relay.port}{path.replace('/socket', '')}/api/broadcast"
    expected = {"a": "2.0.0" if vsn_a == "default" else vsn_a, "b": "2.0.0" if vsn_b == "default" else vsn_b}
    assert summary["vsn"] == expected
    assert summary["self"] is self_ and summary["ack"] is ack
    for name in ("a", "b"):
        assert summary["statuses"][name][0] == "SUBSCRIBED"
        assert not any(s.startswith(("CHANNEL_ERROR", "TIMED_OUT")) for s in summary["statuses"][name])
    if expected == {"a": "2.0.0", "b": "2.0.0"}:
        assert summary["binary_payload_checked"]
        assert 3 in summary["frames"]["a"]["sent_binary_kinds"]
        assert 4 in summary["frames"]["b"]["recv_binary_kinds"]


# -- presence ---------------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_presence(relay_factory, vsn):
    relay = relay_factory()
    summary = run_scenario("presence.mjs", relay, env={"RT_VSN": vsn})
    alice, bob = summary["events"]["alice"], summary["events"]["bob"]
    assert "bob" in alice["joins"] and "alice" in bob["joins"]
    assert alice["sync"] >= 2 and bob["sync"] >= 2
    assert alice["leaves"].count("bob") >= 2  # untrack, then disconnect
    assert summary["statuses"]["alice"] == ["SUBSCRIBED"]


# -- postgres_changes -------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_postgres_changes(relay_factory, db, vsn):
    create_role(db)
    relay = relay_factory(db_dsn=db.dsn)
    token = relay.token(role=ROLE, sub="7b0c1c48-1111-4222-8333-444455556666")
    db.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE}")
    summary = run_scenario("postgres_changes.mjs", relay, db=db, env={"RT_VSN": vsn, "RT_TOKEN": token})
    assert summary["_steps"] == ["setup", "changes"]
    assert summary["received"] == {"all": 3, "ins": 1, "del": 2}
    assert summary["raw_pushes"] == 4
    assert summary["insert_new"]["tags"] == ["red", "green", "blue"]
    assert summary["insert_new"]["amount"] == 12.345
    assert summary["insert_new"]["flag"] is True
    assert summary["delete_old"]["note"] is None
    assert summary["statuses"] == ["SUBSCRIBED"]
    # realtime-js left the channel (phx_leave) at the end: the relay unsubscribed.
    wait_until(lambda: db.scalar("SELECT count(*) FROM realtime.subscription") == 0, timeout=15,
               what="the relay to remove the subscriptions after the client left")


# -- channel status ---------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_subscribe_status(relay_factory, db, vsn):
    create_role(db)
    relay = relay_factory(db_dsn=db.dsn)
    db.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE}")
    summary = run_scenario("subscribe_status.mjs", relay, db=db, env={
        "RT_VSN": vsn,
        "RT_TOKEN": relay.token(role=ROLE),
        "RT_TOKEN_2": relay.token(role=ROLE, exp_in=7200),
    })
    assert summary["statuses"] == ["SUBSCRIBED", "CLOSED"]
    assert summary["rejoin_statuses"][0] == "SUBSCRIBED"
    assert "Unauthorized" in summary["private_error"]
    assert summary["heartbeats"] >= 3


# -- row level security -----------------------------------------------------------------

RLS_SCHEMA = """
CREATE TABLE public.rt_todos (id bigserial PRIMARY KEY, user_id uuid, title text, secret text);
ALTER TABLE public.rt_todos REPLICA IDENTITY FULL;
GRANT SELECT ON public.rt_todos TO authenticated;
GRANT SELECT (id, title) ON public.rt_todos TO anon;
ALTER TABLE public.rt_todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.rt_todos FOR SELECT TO authenticated USING (auth.uid() = user_id);
CREATE POLICY everyone ON public.rt_todos FOR SELECT TO anon USING (true);
CREATE TABLE public.rt_members (team_id int, user_id uuid);
GRANT SELECT ON public.rt_members TO authenticated;
CREATE TABLE public.rt_team_docs (id bigserial PRIMARY KEY, team_id int, body text);
GRANT SELECT ON public.rt_team_docs TO authenticated, anon;
ALTER TABLE public.rt_team_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY team ON public.rt_team_docs FOR SELECT TO authenticated USING (
    team_id IN (SELECT m.team_id FROM public.rt_members m WHERE m.user_id = (SELECT auth.uid())));
CREATE TABLE public.rt_marker (id serial PRIMARY KEY);
GRANT SELECT ON public.rt_marker TO anon, authenticated;
"""
ALICE, BOB = "a11ce000-0000-4000-8000-000000000001", "b0b00000-0000-4000-8000-000000000002"


@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_row_level_security(relay_factory, app_db, vsn):
    """Issue 11 through realtime-js: compiled and membership policies, column privileges,
    and a token refreshed with setAuth (see rls.mjs)."""
    db = app_db
    db.execute(RLS_SCHEMA)
    db.execute("INSERT INTO rt_members VALUES (1, %s), (2, %s)", (ALICE, BOB))
    relay = relay_factory(db_dsn=db.dsn)

    def refreshed():
        wait_until(lambda: db.scalar("SELECT count(*) FROM realtime.subscription WHERE claims->>'sub' = %s",
                                     (BOB,)) == 6, timeout=15, what="alice's subscriptions to carry bob's subject")

    summary = run_scenario("rls.mjs", relay, db=db, actions={"refreshed": refreshed}, env={
        "RT_VSN": vsn, "RT_ALICE": ALICE, "RT_BOB": BOB,
        "RT_TOKEN_ALICE": relay.token(role="authenticated", sub=ALICE),
        "RT_TOKEN_BOB": relay.token(role="authenticated", sub=BOB),
        "RT_TOKEN_ANON": relay.token(role="anon"),
        "RT_TOKEN_ALICE_AS_BOB": relay.token(role="authenticated", sub=BOB, exp_in=7200),
    })
    assert summary["_steps"] == ["changes", "refreshed", "changes_after_refresh"]
    assert summary["todos"]["alice"] == ["INSERT alice 1", "UPDATE alice 1 edited", "INSERT bob 2"]
    assert summary["docs"] == {"alice": ["team 1 doc"], "bob": ["team 2 doc"], "anon": []}


# -- private channels -------------------------------------------------------------------

# Read and write by claims of the token (auth.jwt()), so one test makes every kind of user.
PRIVATE_POLICIES = """
CREATE POLICY "js read" ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT realtime.topic()) = '{t}' AND coalesce((auth.jwt() ->> 'member')::boolean, false));
CREATE POLICY "js write" ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK ((SELECT realtime.topic()) = '{t}' AND coalesce((auth.jwt() ->> 'writer')::boolean, false));
CREATE TABLE public.js_notes (id int PRIMARY KEY, body text);
CREATE FUNCTION js_notes_changes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  PERFORM realtime.broadcast_changes('{t}', TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
  RETURN NULL; END $$;
CREATE TRIGGER js_notes_changes AFTER INSERT OR UPDATE OR DELETE ON public.js_notes
  FOR EACH ROW EXECUTE FUNCTION js_notes_changes();
"""


@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_private_channel(app_db, relay_factory, vsn):
    """Issue 12 through realtime-js: who may join, send and receive by the policies, SQL
    broadcasts, replay, a refresh that revokes, httpSend (private.mjs)."""
    topic = f"js-private-{app_db.name}"
    app_db.execute(PRIVATE_POLICIES.format(t=topic))
    relay = relay_factory(db_dsn=app_db.dsn).wait_slot()

    def token(**claims):
        return relay.token(role=ROLE, sub="33333333-3333-4333-8333-333333333333", **claims)

    summary = run_scenario("private.mjs", relay, db=app_db, env={
        "RT_VSN": vsn,
        "RT_TOPIC": topic,
        "RT_TOKEN": token(member=True, writer=True),
        "RT_TOKEN_WRITER": token(member=True, writer=True),
        "RT_TOKEN_READER": token(member=True),
        "RT_TOKEN_OUTSIDER": token(),
        "RT_TOKEN_REVOKED": token(member=False, exp_in=7200),
    })
    assert summary["_steps"] == ["sql"]
    # the reader's channel is closed by the server once its refreshed token loses access
    assert summary["statuses"] == {"writer": ["SUBSCRIBED"], "reader": ["SUBSCRIBED", "CLOSED"]}
    assert summary["refused"] == f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"
    assert summary["replayed"] == ["from-sql", "INSERT"]
