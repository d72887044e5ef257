"""The index follows realtime.subscription exactly: in commit order within a session,
and across sessions (each pg_logical_slot_get_changes call is a new session)."""
import json
import time

from .helpers import opts, rows, subscribe, targets_of


def test_subscription_committed_then_change_matches(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("INSERT INTO t VALUES (1, 5)")  # before any subscription
    sub = subscribe(db, "n", "t", "k=eq.5")
    db.execute("INSERT INTO t VALUES (2, 5)")
    assert [(d["record"]["id"], targets_of(d)) for d in rows(slot.get())] == [(2, {"n": [sub]})]


def test_subscription_loaded_at_session_start(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    sub = subscribe(db, "n", "t", "k=eq.5")
    assert slot.get() == []  # the subscription's commit is now confirmed
    db.execute("INSERT INTO t VALUES (1, 5)")
    assert [targets_of(d) for d in rows(slot.get())] == [{"n": [sub]}]


def _change_begun_before_subscription(db, slot, read_in_between):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    early = db.connect(autocommit=False)
    try:
        with early.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (1, 5)")
        sub = subscribe(db, "n", "t", "k=eq.5")
        if read_in_between:
            # Consumes (and confirms past) the subscription's commit while the
            # change's transaction is still open: the next session must still know it.
            assert rows(slot.get()) == []
        early.commit()
    finally:
        early.close()
    return sub, rows(slot.get())


def test_change_begun_before_subscription_committed_after_matches(db, slot):
    sub, docs = _change_begun_before_subscription(db, slot, read_in_between=False)
    assert [targets_of(d) for d in docs] == [{"n": [sub]}]


def test_same_across_a_session_restart_between_the_commits(db, slot):
    sub, docs = _change_begun_before_subscription(db, slot, read_in_between=True)
    assert [targets_of(d) for d in docs] == [{"n": [sub]}]


def test_change_committed_before_subscription_does_not_match(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    late = db.connect(autocommit=False)
    try:
        with late.cursor() as cur:
            cur.execute("SELECT realtime.subscribe('n', 't'::regclass, '*', 'k=eq.5')")
        db.execute("INSERT INTO t VALUES (1, 5)")
        late.commit()
    finally:
        late.close()
    assert rows(slot.get()) == []


def test_unsubscribe_then_change_does_not_match(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    gone = subscribe(db, "n", "t", "k=eq.5")
    kept = subscribe(db, "n", "t", "k=eq.5")
    db.execute("INSERT INTO t VALUES (1, 5)")
    assert db.scalar("SELECT realtime.unsubscribe(%s)", (gone,)) is True
    db.execute("INSERT INTO t VALUES (2, 5)")
    got = [(d["record"]["id"], targets_of(d)) for d in rows(slot.peek())]
    assert got == [(1, {"n": sorted([gone, kept])}), (2, {"n": [kept]})]
    # The same in a session that loads the table after the unsubscribe.
    slot.get()
    db.execute("INSERT INTO t VALUES (3, 5)")
    assert [targets_of(d) for d in rows(slot.get())] == [{"n": [kept]}]


def test_unsubscribe_node_and_several_nodes_in_targets(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, room text)")
    a1 = subscribe(db, "node-a", "t", "room=eq.lobby")
    b1 = subscribe(db, "node-b", "t", "room=eq.lobby")
    a2 = subscribe(db, "node-a", "t")
    c1 = subscribe(db, "node-c", "t", "room=eq.kitchen")
    db.execute("INSERT INTO t VALUES (1, 'lobby')")
    assert db.scalar("SELECT realtime.unsubscribe_node('node-a')") == 2
    db.execute("INSERT INTO t VALUES (2, 'lobby')")
    first, second = rows(slot.get())
    assert first["targets"] == {"node-a": sorted([a1, a2]), "node-b": [b1]}
    assert second["targets"] == {"node-b": [b1]}
    assert c1


def test_subscription_update_moves_it(db, slot):
    """Rows updated in place (not through the API) are followed too."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("CREATE TABLE u (id int PRIMARY KEY, k int)")
    sub = subscribe(db, "n", "t", "k=eq.5")
    db.execute("""UPDATE realtime.subscription SET entity = 'u'::regclass,
                  filters = '[{"column":"k","op":"eq","values":["6"]}]' WHERE id = %s""", (sub,))
    db.execute("INSERT INTO t VALUES (1, 5)")
    db.execute("INSERT INTO u VALUES (1, 5), (2, 6)")
    db.execute("UPDATE realtime.subscription SET node_id = 'm' WHERE id = %s", (sub,))
    db.execute("INSERT INTO u VALUES (3, 6)")
    assert [(d["table"], d["record"]["id"], targets_of(d)) for d in rows(slot.get())] == [
        ("u", 2, {"n": [sub]}), ("u", 3, {"m": [sub]})]


def test_subscriptions_within_the_changing_transaction(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("""BEGIN;
        INSERT INTO t VALUES (1, 5);
        SELECT realtime.subscribe('n', 't'::regclass, '*', 'k=eq.5');
        INSERT INTO t VALUES (2, 5);
        COMMIT""")
    assert [d["record"]["id"] for d in rows(slot.get())] == [2]


def test_truncate_of_subscriptions_empties_the_index(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("TRUNCATE realtime.subscription")
    db.execute("INSERT INTO t VALUES (2)")
    assert [d["record"]["id"] for d in rows(slot.get())] == [1]


def test_subscription_rows_are_never_emitted(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    subscribe(db, "n", "t", claims={"role": "postgres", "secret": "jwt-claims"})
    db.execute("INSERT INTO t VALUES (1)")
    docs = slot.get(**opts(include_unmatched=True))
    assert [d["table"] for d in rows(docs)] == ["t"]
    assert all("jwt-claims" not in str(d) for d in docs)


def test_ten_thousand_subscriptions_at_once(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, user_id int, kind text)")
    started = time.monotonic()
    db.execute("""SELECT realtime.subscribe('node-' || (i % 3), 't'::regclass, '*', 'user_id=eq.' || i)
                  FROM generate_series(1, 10000) i""")
    subscribed_in = time.monotonic() - started
    broad = subscribe(db, "node-x", "t", "kind=eq.vip")
    ids = dict(db.execute("SELECT (filters->0->'values'->>0)::int, id FROM realtime.subscription "
                          "WHERE filters->0->>'column' = 'user_id'"))
    assert len(ids) == 10000
    db.execute("""INSERT INTO t SELECT i, i * 37 % 20000, CASE WHEN i % 50 = 0 THEN 'vip' END
                  FROM generate_series(1, 2000) i""")
    db.execute("UPDATE t SET user_id = 10000 WHERE id = 1")
    docs = rows(slot.get())
    expected_inserts = [i for i in range(1, 2001) if 1 <= i * 37 % 20000 <= 10000 or i % 50 == 0]
    assert [d["record"]["id"] for d in docs if d["type"] == "INSERT"] == expected_inserts
    for d in docs:
        user_id, want = d["record"]["user_id"], {}
        if 1 <= user_id <= 10000:
            want[f"node-{user_id % 3}"] = [ids[user_id]]
        if d["record"]["kind"] == "vip":
            want["node-x"] = [broad]
        assert targets_of(d) == want
    assert docs[-1]["type"] == "UPDATE" and targets_of(docs[-1]) == {"node-1": [ids[10000]]}
    # Loading them at the start of a session works the same.
    db.execute("INSERT INTO t VALUES (5000, 4321, NULL)")
    assert [targets_of(d) for d in rows(slot.get())] == [{f"node-{4321 % 3}": [ids[4321]]}]
    print(f"10000 subscribe() calls took {subscribed_in:.2f}s")


def test_subscription_events(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("""BEGIN;
        INSERT INTO t VALUES (1);
        SELECT realtime.subscribe('node-b', 't'::regclass);
        SELECT realtime.subscribe('node-a', 't'::regclass);
        SELECT realtime.subscribe('node-b', 't'::regclass);
        COMMIT""")
    ids = [r[0] for r in db.execute("SELECT id FROM realtime.subscription ORDER BY id")]
    db.execute("SELECT realtime.unsubscribe(%s)", (ids[0],))
    assert slot.peek() == []  # off by default
    (event,) = slot.get(**opts(subscription_events=True))
    assert list(event) == ["type", "commit_lsn", "change_index", "targets"]
    assert event["type"] == "SUBSCRIBED" and event["change_index"] == 4
    assert event["targets"] == {"node-a": [ids[1]], "node-b": [ids[0], ids[2]]}


def test_a_subscription_moved_to_another_node_is_announced_to_it_in_commit_order(db, slot):
    """A client resuming on another node moves its row there (hub/resume): the new node
    gets a SUBSCRIBED for it at the move's place in the stream, and the changes before it
    went to the old node, those after to the new one."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    sid = subscribe(db, "node-a", "t")
    slot.get(**opts(subscription_events=True))
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("UPDATE realtime.subscription SET node_id = 'node-b' WHERE id = %s", (sid,))
    db.execute("INSERT INTO t VALUES (2)")
    db.execute("UPDATE realtime.subscription SET claims = claims WHERE id = %s", (sid,))  # not a move
    docs = slot.get(**opts(subscription_events=True))
    assert [(d["type"], d["targets"]) for d in docs] == [
        ("INSERT", {"node-a": [sid]}), ("SUBSCRIBED", {"node-b": [sid]}), ("INSERT", {"node-b": [sid]})]


def test_relation_changes_recompile_filters(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, code text)")
    sub = subscribe(db, "n", "t", "code=eq.42")
    db.execute("INSERT INTO t VALUES (1, '42')")
    db.execute("ALTER TABLE t ALTER COLUMN code TYPE int USING code::int")
    db.execute("INSERT INTO t VALUES (2, 42), (3, 43)")
    db.execute("ALTER TABLE t RENAME COLUMN code TO renamed")
    db.execute("INSERT INTO t VALUES (4, 42), (5, 42)")
    docs = rows(slot.get())
    assert [(d["record"]["id"], targets_of(d)) for d in docs] == [
        (1, {"n": [sub]}), (2, {"n": [sub]}), (4, {})]
    assert docs[1]["columns"][1] == {"name": "code", "type": "int4"}
    # A filter that no longer compiles ends the subscription: reported once, with the
    # first change it can no longer be matched against.
    assert docs[2]["failed"] == {"n": [{"id": sub, "message": 'column "code" does not exist'}]}


def test_partitions_match_subscriptions_on_the_parent(db, slot):
    db.execute("CREATE TABLE m (id int, region text) PARTITION BY LIST (region)")
    db.execute("CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu')")
    db.execute("CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us')")
    on_parent = subscribe(db, "n", "m", "id=gt.1")
    on_leaf = subscribe(db, "n", "m_us")
    db.execute("INSERT INTO m VALUES (1, 'eu'), (2, 'eu'), (3, 'us')")
    got = [(d["table"], d["record"]["id"], targets_of(d)) for d in rows(slot.get())]
    assert got == [("m_eu", 2, {"n": [on_parent]}), ("m_us", 3, {"n": sorted([on_parent, on_leaf])})]


def test_matching_after_index_recompiles_on_new_subscriptions(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    subs = []
    for i in range(5):
        subs.append(subscribe(db, "n", "t", f"k=eq.{i}"))
        db.execute("INSERT INTO t VALUES (%s, %s)", (i, i))
        db.execute("INSERT INTO t VALUES (%s, %s)", (100 + i, 0))
    got = [(d["record"]["id"], targets_of(d)["n"]) for d in rows(slot.get())]
    want = []
    for i in range(5):
        want += [(i, [subs[i]]), (100 + i, [subs[0]])]
    assert got == want


def test_unsubscribed_before_the_session_started_still_gets_earlier_changes(db, slot):
    """A session resumes from the slot's confirmed position: a change committed before
    an unsubscribe is still owed to that subscription, even though the unsubscribe
    committed before the session started."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    sub = subscribe(db, "n", "t", "k=eq.5")
    assert slot.get() == []
    db.execute("INSERT INTO t VALUES (1, 5)")
    db.execute("SELECT realtime.unsubscribe(%s)", (sub,))
    db.execute("INSERT INTO t VALUES (2, 5)")
    assert [(d["record"]["id"], targets_of(d)) for d in rows(slot.get())] == [(1, {"n": [sub]})]


def test_replay_from_an_older_restart_point_is_exact(db, slot):
    """An open transaction holds the slot's restart point back; sessions that replay
    from it still match each change against the subscriptions of its commit time."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    holder = db.connect(autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (100, 0)")
        first = subscribe(db, "n", "t", "k=eq.5")
        db.execute("INSERT INTO t VALUES (1, 5)")
        assert [d["record"]["id"] for d in rows(slot.get())] == [1]
        second = subscribe(db, "n", "t", "k=eq.5")
        db.execute("INSERT INTO t VALUES (2, 5)")
        db.execute("SELECT realtime.unsubscribe(%s)", (first,))
        db.execute("INSERT INTO t VALUES (3, 5)")
        holder.commit()
    finally:
        holder.close()
    got = [(d["record"]["id"], targets_of(d)) for d in rows(slot.get())]
    assert got == [(2, {"n": sorted([first, second])}), (3, {"n": [second]})]


def test_extension_recreated_while_a_transaction_was_open(db, slot):
    """The exact starting point cannot be read when the decoded transaction's catalog
    predates the table; the session then keeps the startup load, and still delivers."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    early = db.connect(autocommit=False)
    try:
        with early.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (1, 5)")
        db.execute("DROP EXTENSION pg_realtime")
        db.execute("CREATE EXTENSION pg_realtime")
        sub = subscribe(db, "n", "t", "k=eq.5")
        assert rows(slot.get()) == []
        early.commit()
    finally:
        early.close()
    docs, notices = read_with_debug(db, slot)
    assert [targets_of(d) for d in rows(docs)] == [{"n": [sub]}]
    assert any("loaded 1 subscriptions with a fresh snapshot" in n for n in notices), notices
    assert any("kept the startup load" in n for n in notices), notices


def read_with_debug(db, slot):
    """Documents and the plugin's DEBUG1 lines of one session on the slot."""
    db.conn.notices.clear()
    db.execute("SET client_min_messages = debug1")
    try:
        docs = slot.get()
    finally:
        db.execute("RESET client_min_messages")
    return docs, [n for n in db.conn.notices if "pg_realtime:" in n]


def test_sessions_load_the_exact_starting_point(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    subscribe(db, "n", "t")
    slot.get()
    db.execute("INSERT INTO t VALUES (1)")
    docs, notices = read_with_debug(db, slot)
    assert len(rows(docs)) == 1
    # The table is older than the slot: no fallback copy is made at startup.
    assert any("predates the slot's catalog horizon" in n for n in notices), notices
    assert any("loaded 1 subscriptions as of transaction" in n for n in notices), notices


def test_truncated_subscriptions_while_the_slot_lagged(db, slot):
    """TRUNCATE gives realtime.subscription new storage; the old one, which the lagging
    session's first transaction would see, is unlinked at the next checkpoint. The
    session must neither fail nor lose the subscriptions that exist now."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    subscribe(db, "n", "t", "k=eq.5")
    slot.get()
    db.execute("INSERT INTO t VALUES (1, 5)")
    db.execute("TRUNCATE realtime.subscription")
    after = subscribe(db, "n", "t", "k=eq.5")
    db.execute("INSERT INTO t VALUES (2, 5)")
    db.execute("CHECKPOINT")
    docs, notices = read_with_debug(db, slot)
    assert any("kept the startup load" in n for n in notices), notices
    # The fallback errs on the side of delivering: the change from before the TRUNCATE
    # goes to the subscription that exists now.
    assert [(d["record"]["id"], targets_of(d)) for d in rows(docs)] == [
        (1, {"n": [after]}), (2, {"n": [after]})]


def test_adopt_moves_a_dead_nodes_row_and_never_a_live_ones(db, slot):
    """realtime.adopt (a client resuming on another node, hub/resume): the oldest row with
    the same binding and claims' role and sub, of a node without a recent registry beat
    (or none), moves to the asking node; a live node's row stays and is reported."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("INSERT INTO realtime.nodes (node_id, last_heartbeat) VALUES "
               "('dead', now() - interval '1 minute'), ('live', now())")
    dead = subscribe(db, "dead", "t", claims={"sub": "u1"})
    gone = subscribe(db, "never-registered", "t", claims={"sub": "u1"})
    live = subscribe(db, "live", "t", claims={"sub": "u1"})
    other = subscribe(db, "dead", "t", claims={"sub": "u2"})

    def adopt(sub="u1", node="new", select=None, claims=None):
        claims = claims if claims is not None else {"sub": sub}
        return db.execute("SELECT id, live_elsewhere FROM realtime.adopt(%s, 't'::regclass, '*', NULL, '', %s, "
                          "interval '3 seconds', %s, %s::jsonb)", (node, sub, select, json.dumps(claims)))[0]

    assert adopt() == (dead, True)
    assert adopt() == (gone, True)
    assert adopt() == (None, True)  # only the live node's is left
    assert adopt(sub="u3") == (None, False)
    nodes = dict(db.execute("SELECT id, node_id FROM realtime.subscription"))
    assert nodes == {dead: "new", gone: "new", live: "live", other: "dead"}
    assert adopt(node="live", sub="u2") == (other, False)
    # The select option is part of the binding: a row sending only some columns is
    # adopted only by a join asking for the same ones.
    narrow = db.scalar("SELECT realtime.subscribe('dead', 't'::regclass, '*', NULL, %s::jsonb, %s)",
                       ('{"sub": "u4"}', ["id"]))
    assert adopt(sub="u4") == (None, False)
    assert adopt(sub="u4", select=["id"]) == (narrow, False)


def test_parked_rows_are_recorded_in_batches_and_a_dead_nodes_parked_row_says_since_when(db, slot):
    """realtime.mark_parked (a relay's parks, in batches) and realtime.adopt's lost_since:
    a dead node's row it had parked moves with the time of the park (what that node kept
    since then died with it), and is no longer parked; a row whose client is connected
    (parked_at NULL) moves without it."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("INSERT INTO realtime.nodes (node_id, last_heartbeat) VALUES ('dead', now() - interval '1 minute')")
    parked = subscribe(db, "dead", "t", claims={"sub": "u1"})
    connected = subscribe(db, "dead", "t", claims={"sub": "u2"})
    back = subscribe(db, "dead", "t", claims={"sub": "u3"})
    at = 1764600000.25
    db.execute("SELECT realtime.mark_parked('dead', %s::bigint[], %s::float8[], '{}')", ([parked, back], [at, at]))
    db.execute("SELECT realtime.mark_parked('dead', '{}', '{}', %s::bigint[])", ([back],))
    db.execute("SELECT realtime.mark_parked('other', %s::bigint[], %s::float8[], '{}')", ([connected], [at]))
    states = dict(db.execute("SELECT id, extract(epoch FROM parked_at)::float8 FROM realtime.subscription"))
    assert states == {parked: at, connected: None, back: None}

    def adopt(sub):
        return db.execute("SELECT id, lost_since FROM realtime.adopt('new', 't'::regclass, '*', NULL, '', %s, "
                          "interval '3 seconds', NULL, %s::jsonb)", (sub, json.dumps({"sub": sub})))[0]

    assert adopt("u1") == (parked, int(at))
    assert adopt("u2") == (connected, None)
    assert db.scalar("SELECT count(*) FROM realtime.subscription WHERE parked_at IS NOT NULL") == 0


def test_adopt_moves_a_live_nodes_row_only_when_that_node_parked_it_and_names_the_node(db, slot):
    """A row of a node that still beats moves only when parked there (no client connected
    to it there): parked_on names the node, which hands over what it kept; a live node's
    connected row (another tab) stays, reported as live_elsewhere. A dead node's row is
    taken first."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("INSERT INTO realtime.nodes (node_id, last_heartbeat) VALUES ('b', now()), ('c', now()), "
               "('d', now()), ('dead', now() - interval '1 minute')")
    tab = subscribe(db, "b", "t", claims={"sub": "u1"})
    parked = subscribe(db, "b", "t", claims={"sub": "u2"})
    db.execute("SELECT realtime.mark_parked('b', %s::bigint[], %s::float8[], '{}')", ([parked], [1764600000.5]))

    def adopt(sub, node="c"):
        return db.execute("SELECT id, live_elsewhere, lost_since, parked_on FROM realtime.adopt(%s, 't'::regclass, "
                          "'*', NULL, '', %s, interval '3 seconds', NULL, %s::jsonb)",
                          (node, sub, json.dumps({"sub": sub})))[0]

    assert adopt("u1") == (None, True, None, None), "a connected tab's row is never taken"
    assert adopt("u2") == (parked, False, 1764600000, "b")
    assert dict(db.execute("SELECT id, node_id FROM realtime.subscription")) == {tab: "b", parked: "c"}
    # Of a dead node's row and a live node's parked one, the dead one's first.
    dead = subscribe(db, "dead", "t", claims={"sub": "u3"})
    live = subscribe(db, "b", "t", claims={"sub": "u3"})
    db.execute("SELECT realtime.mark_parked('b', %s::bigint[], %s::float8[], '{}')", ([live], [1764600000.5]))
    assert adopt("u3") == (dead, False, None, None)
    # (the first, now connected on c, is live elsewhere)
    assert adopt("u3", node="d") == (live, True, 1764600000, "b")


def test_adopt_moves_no_row_made_with_other_claims_and_says_since_when(db, slot):
    """A dead node's row for the same binding, role and sub but other claims (an org a
    policy reads) is not moved: what was kept for it was decided by those claims. The
    join is told since when it missed changes (the dead node's last beat); the same
    claims, in any key order, adopt it."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("INSERT INTO realtime.nodes (node_id, last_heartbeat) VALUES ('dead', now() - interval '1 minute')")
    beat = db.scalar("SELECT extract(epoch FROM last_heartbeat)::bigint FROM realtime.nodes WHERE node_id = 'dead'")
    row = subscribe(db, "dead", "t", claims={"sub": "u1", "org": "a", "n": 1})

    def adopt(claims):
        return db.execute("SELECT id, live_elsewhere, claims_changed_since FROM realtime.adopt('new', 't'::regclass, "
                          "'*', NULL, '', 'u1', interval '3 seconds', NULL, %s::jsonb)", (claims,))[0]

    assert adopt('{"sub": "u1", "org": "b", "n": 1}') == (None, False, beat)
    assert adopt('{"sub": "u1", "org": "a"}') == (None, False, beat)
    assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (row,)) == "dead"
    assert adopt('{"n": 1.0, "org": "a", "sub": "u1"}') == (row, False, None)
    assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (row,)) == "new"


def test_adopt_moves_a_row_to_a_refreshed_token_and_gives_it_the_new_claims(db, slot):
    """A token refreshed while its client was away differs in exp, iat, nbf and jti only:
    it grants the same, so it adopts the dead node's row, and the row takes its claims in
    the move (the decoder decides what commits after it with them). Another claim that
    differs still moves nothing."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    db.execute("INSERT INTO realtime.nodes (node_id, last_heartbeat) VALUES ('dead', now() - interval '1 minute')")
    old = {"sub": "u1", "org": "a", "exp": 1000, "iat": 900, "jti": "one"}
    row = subscribe(db, "dead", "t", claims=old)

    def adopt(claims):
        return db.execute("SELECT id, claims_changed_since IS NOT NULL FROM realtime.adopt('new', 't'::regclass, "
                          "'*', NULL, '', 'u1', interval '3 seconds', NULL, %s::jsonb)", (json.dumps(claims),))[0]

    assert adopt({**old, "org": "b", "exp": 2000}) == (None, True), "another org: not the same grant"
    refreshed = {"sub": "u1", "org": "a", "exp": 2000, "iat": 1900, "nbf": 1900, "jti": "two"}
    assert adopt(refreshed) == (row, False)
    node, claims = db.execute("SELECT node_id, claims FROM realtime.subscription WHERE id = %s", (row,))[0]
    assert node == "new" and claims == refreshed
    assert db.scalar("SELECT realtime._lasting_claims(%s::jsonb)", (json.dumps(refreshed),)) == {"sub": "u1", "org": "a"}
