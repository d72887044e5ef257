"""realtime.replay: the stored private broadcasts of a topic since a ms epoch, the newest
"limit" (1..25) of them, oldest first, with the ids live delivery carries."""
import psycopg2
import pytest

from .helpers import broadcasts


def now_ms(db):
    return db.scalar("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint")


def replay(db, topic, since, limit=25):
    return db.execute("SELECT id::text, event, payload, encode(binary_payload, 'hex') FROM realtime.replay(%s, %s, %s)",
                      (topic, since, limit))


def send_events(db, topic, events, private=True):
    for e in events:
        db.execute("SELECT realtime.send(%s::jsonb, %s, %s, %s)", ('{"n": "%s"}' % e, e, topic, private))


def test_replay_returns_the_topics_private_broadcasts_oldest_first(app_db, slot):
    start = now_ms(app_db)
    send_events(app_db, "room1", ["a", "b"])
    send_events(app_db, "room1", ["public"], private=False)
    send_events(app_db, "room2", ["elsewhere"])
    app_db.execute("""INSERT INTO realtime.messages (topic, extension, event, payload, private)
                      VALUES ('room1', 'presence', 'p', '{}', true)""")
    app_db.execute("SELECT realtime.send_binary('\\x00ff', 'bin', 'room1')")
    send_events(app_db, "room1", ["c"])
    rows = replay(app_db, "room1", start)
    assert [r[1] for r in rows] == ["a", "b", "bin", "c"]
    assert rows[0][2] == {"n": "a", "id": rows[0][0]} and rows[2][2] is None and rows[2][3] == "00ff"
    # The ids are the ones the live BROADCAST documents carried.
    live = {d["id"]: d["event"] for d in broadcasts(slot.get())}
    assert all(live[r[0]] == r[1] for r in rows)


def test_limit_keeps_the_newest_and_is_bounded(app_db):
    start = now_ms(app_db)
    events = [f"e{i:02}" for i in range(30)]
    send_events(app_db, "room1", events)
    assert [r[1] for r in replay(app_db, "room1", start, 3)] == ["e27", "e28", "e29"]
    assert [r[1] for r in replay(app_db, "room1", start, 100)] == events[5:]
    assert [r[1] for r in replay(app_db, "room1", start, None)] == events[5:]
    assert [r[1] for r in replay(app_db, "room1", start, 0)] == ["e29"]
    assert [r[1] for r in replay(app_db, "room1", start, -4)] == ["e29"]


def test_since_bounds_the_messages(app_db):
    app_db.execute("""INSERT INTO realtime.messages (topic, extension, event, payload, private, inserted_at)
                      VALUES ('room1', 'broadcast', 'old', '{}', true, timezone('UTC', now()) - interval '2 hours'),
                             ('room1', 'broadcast', 'future', '{}', true, timezone('UTC', now()) + interval '2 hours')""")
    middle = now_ms(app_db) - 3600 * 1000
    send_events(app_db, "room1", ["recent"])
    assert [r[1] for r in replay(app_db, "room1", middle)] == ["recent"]
    # Far in the past is everything stored (up to a minute from now).
    assert [r[1] for r in replay(app_db, "room1", 0)] == ["old", "recent"]
    assert [r[1] for r in replay(app_db, "room1", -377705116800000)] == ["old", "recent"]
    assert replay(app_db, "room1", now_ms(app_db) + 1000) == []


@pytest.mark.parametrize("since", [None, -377705116800001, 253402300800000])
def test_invalid_since_is_refused(app_db, since):
    with pytest.raises(psycopg2.errors.InvalidParameterValue) as err:
        replay(app_db, "room1", since)
    assert err.value.diag.message_primary == "Replay params are not valid"
