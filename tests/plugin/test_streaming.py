"""The slot read through streaming replication (pg_recvlogical, a walsender), where
the plugin starts outside any transaction."""
import json
import os
import signal
import subprocess

import pytest

from support.pg import PG_BINDIR, wait_until

from .helpers import subscribe, targets_of


class Receiver:
    """pg_recvlogical streaming a slot into a file, one document per line."""

    def __init__(self, db, slot, path, *options):
        args = [os.path.join(PG_BINDIR, "pg_recvlogical"), "-d", db.dsn, "-S", slot,
                "--start", "-f", path, "-F", "0", "-s", "1", "--no-loop"]
        for option in options:
            args += ["-o", option]
        self.path = path
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.db = db
        wait_until(self._active, timeout=20, what="pg_recvlogical to take the slot")

    def _active(self):
        if self.proc.poll() is not None:
            raise RuntimeError("pg_recvlogical exited: " + self.proc.stderr.read().decode())
        return self.db.scalar("SELECT active FROM pg_replication_slots WHERE slot_name = 'rt_slot'")

    def docs(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_for(self, count):
        return wait_until(lambda: len(self.docs()) >= count and self.docs(), timeout=20,
                          what=f"{count} documents from pg_recvlogical")

    def stop(self):
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        wait_until(lambda: not self.db.scalar(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'rt_slot'"),
            timeout=20, what="the slot to be released")


@pytest.fixture
def receivers(tmp_path):
    started = []

    def start(db, name, *options):
        receiver = Receiver(db, "rt_slot", str(tmp_path / name), *options)
        started.append(receiver)
        return receiver
    yield start
    for receiver in reversed(started):
        receiver.stop()


def test_streaming_matches_like_sql(db, slot, receivers):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    before = subscribe(db, "node-a", "t", "k=eq.1")
    slot.get()  # the subscription is confirmed: the walsender must load it at startup

    first = receivers(db, "first.jsonl", "subscription-events=true")
    db.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    during = subscribe(db, "node-b", "t", "k=eq.2")
    db.execute("INSERT INTO t VALUES (3, 2)")
    db.execute("SELECT realtime.broadcast('room', 'e', '{\"x\": 1}')")
    docs = first.wait_for(4)
    assert [(d["type"], d.get("record", {}).get("id")) for d in docs] == [
        ("INSERT", 1), ("SUBSCRIBED", None), ("INSERT", 3), ("BROADCAST", None)]
    assert targets_of(docs[0]) == {"node-a": [before]}
    assert targets_of(docs[1]) == {"node-b": [during]}
    assert targets_of(docs[2]) == {"node-b": [during]}
    first.stop()

    # A new walsender resumes from what the first one confirmed (pg_recvlogical
    # confirms lazily, so some documents come again): replayed documents are the same,
    # targets included, although a subscription went away in between.
    db.execute("SELECT realtime.unsubscribe(%s)", (before,))
    db.execute("INSERT INTO t VALUES (4, 1), (5, 2)")
    second = receivers(db, "second.jsonl")
    seen = {(d["commit_lsn"], d["change_index"]): d for d in docs}
    replayed = second.wait_for(1)
    wait_until(lambda: any(d.get("record", {}).get("id") == 5 for d in second.docs()),
               timeout=20, what="the change made while no walsender ran")
    replayed = second.docs()
    new = [d for d in replayed if (d["commit_lsn"], d["change_index"]) not in seen]
    old = [d for d in replayed if (d["commit_lsn"], d["change_index"]) in seen]
    assert all(d == seen[(d["commit_lsn"], d["change_index"])] for d in old)
    assert [(d["record"]["id"], targets_of(d)) for d in new] == [(5, {"node-b": [during]})]


def test_streaming_a_long_filtered_transaction(db, slot, receivers):
    """Skipping many unmatched changes (progress updates) and then matching one."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    sub = subscribe(db, "n", "t", "k=eq.-1")
    receiver = receivers(db, "long.jsonl")
    db.execute("INSERT INTO t SELECT i, i FROM generate_series(1, 50000) i")
    db.execute("INSERT INTO t VALUES (0, -1)")
    (doc,) = receiver.wait_for(1)
    assert doc["record"] == {"id": 0, "k": -1} and targets_of(doc) == {"n": [sub]}


def test_streaming_session_start_after_extension_recreated(db, slot, receivers):
    """The walsender reads the catalog at startup in a transaction of its own; the
    decoding that follows must still see the catalog as of each transaction (else the
    first transaction here would read the new table with its old snapshot, and miss
    the subscription)."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    early = db.connect(autocommit=False)
    try:
        with early.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (1, 5)")
        db.execute("DROP EXTENSION pg_realtime")
        db.execute("CREATE EXTENSION pg_realtime")
        sub = subscribe(db, "n", "t", "k=eq.5")
        slot.get()
        early.commit()
    finally:
        early.close()
    receiver = receivers(db, "recreated.jsonl")
    (doc,) = receiver.wait_for(1)
    assert doc["record"]["id"] == 1 and targets_of(doc) == {"n": [sub]}


def test_streaming_session_start_after_subscriptions_truncated(db, slot, receivers):
    """As above for a TRUNCATE of realtime.subscription while the slot lagged: the
    session falls back to the subscriptions that exist now, and does not fail."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    subscribe(db, "n", "t", "k=eq.5")
    slot.get()
    db.execute("INSERT INTO t VALUES (1, 5)")
    db.execute("TRUNCATE realtime.subscription")
    after = subscribe(db, "n", "t", "k=eq.5")
    db.execute("CHECKPOINT")
    receiver = receivers(db, "truncated.jsonl")
    (doc,) = receiver.wait_for(1)
    assert doc["record"]["id"] == 1 and targets_of(doc) == {"n": [after]}


def test_streaming_row_level_security(app_db, slot, receivers):
    """Policies compiled and claims evaluated in a walsender (whose decoding runs in a
    transaction of its own, not the SQL function's): a user whose claims raise fails
    alone, a membership check goes out, and a REVOKE mid-stream applies from its commit."""
    db = app_db
    db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, owner uuid, org int);
        CREATE TABLE members (org int, user_id uuid);
        GRANT SELECT ON t, members TO authenticated;
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON t FOR SELECT USING (owner = auth.uid());
        CREATE POLICY org ON t FOR SELECT USING (org IN (SELECT m.org FROM members m
                                                 WHERE m.user_id = (SELECT auth.uid())))""")
    ann, bob = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
    sub_ann = subscribe(db, "n", "t", claims={"role": "authenticated", "sub": ann})
    sub_bad = subscribe(db, "n", "t", claims={"role": "authenticated", "sub": "nope"})
    receiver = receivers(db, "rls.jsonl")
    db.execute("INSERT INTO t VALUES (1, %s, 7), (2, %s, 7)", (ann, bob))
    db.execute("REVOKE SELECT ON t FROM authenticated")
    db.execute("INSERT INTO t VALUES (3, %s, 7)", (ann,))
    first, second, third = receiver.wait_for(3)
    assert targets_of(first) == {"n": [sub_ann]}
    assert first["failed"] == {"n": [{"id": sub_bad,
                                      "message": 'invalid input syntax for type uuid: "nope"'}]}
    assert second["targets"] == {} and second["views"][0]["targets"] == {"n": [sub_ann]}
    assert [q.count("public.members") for q in second["checks"][0]["quals"]] == [1]
    assert third["failed"] == {"n": [{"id": sub_ann, "message": "permission denied for table t"}]}
    assert third["targets"] == {} and "views" not in third
