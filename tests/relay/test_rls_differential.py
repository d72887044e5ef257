"""Row level security through the relay, differentially against Postgres itself (the
relay-level twin of tests/plugin/test_rls_differential.py, smaller).

Seeded random users, each a WebSocket client with a token of its role and claims and a
binding on `items` (a random filter and event), and random transactions of inserts,
updates and deletes on a table with policies of every shape (support/rls_world.py):
compiled ones, a membership sub-select checked by the slot holder, restrictive ones,
FORCE, BYPASSRLS, role membership, column grants, and an `org` claim that is not a uuid
for some users (their policy raises). A second slot reads every change as the plugin
writes it, the ground truth of the row images; for each change and user, Postgres
answers with SET ROLE + the claims' settings + SELECT on that image. Each client must
have received exactly the changes Postgres lets it SELECT, in commit order, each with
exactly the columns its role may SELECT and the image's values; a user for whom Postgres
raises gets a system error for its binding and none of them.

RLS_SEED picks the seed (printed on failure); RLS_RELAY_CASES scales the run.
"""
import os
import random
from contextlib import closing

import pytest

from plugin.helpers import Slot
from support.changes import binding, changes_until_marker, subscribe
from support.phoenix import PhoenixClient, run
from support.rls_world import ANON_COLUMNS, COLUMNS, FILTERS, ORGS, ROLES, SUBS, build_world, oracle, random_changes
from support.rls_world import random_claims

SEED = int(os.environ.get("RLS_SEED", "20261201"))
CHANGES = int(os.environ.get("RLS_RELAY_CASES", "80"))
USERS = 14


@pytest.fixture
def world(app_db):
    build_world(app_db)
    app_db.execute("CREATE TABLE marker (id serial PRIMARY KEY); GRANT SELECT ON marker TO PUBLIC")
    return app_db


def random_users(rng):
    users = []
    for n in range(USERS):
        role = rng.choice(ROLES) if n > 0 else "authenticated"
        claims = random_claims(rng, role) if n > 0 else {"role": role, "org": "not-a-uuid"}
        filter_text, where = rng.choice(FILTERS)
        users.append({"n": n, "role": role, "claims": claims, "filter": filter_text, "where": where,
                      "action": rng.choice(["*", "*", "*", "INSERT", "UPDATE", "DELETE"]),
                      "columns": sorted(ANON_COLUMNS if role == "anon" else COLUMNS)})
    return users


def expected(docs, answers, user):
    """[(type, id, columns, image restricted to them)] Postgres lets the user see."""
    out = []
    for d, answer in zip(docs, answers):
        if user["action"] not in ("*", d["type"]) or answer.get(user["n"]) is not True:
            continue
        image = d["old_record"] if d["type"] == "DELETE" else d["record"]
        out.append((d["type"], image["id"], user["columns"], {c: image[c] for c in user["columns"]}))
    return out


def received(data):
    image = data["old_record"] if data["type"] == "DELETE" else data["record"]
    return (data["type"], image["id"], sorted(image), image)


def test_relay_agrees_with_postgres(world, relay_factory):
    rng = random.Random(SEED)
    db = world
    for org in ORGS[:2]:
        db.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)", (org, rng.choice(SUBS), org, rng.choice(SUBS)))
    users = random_users(rng)
    truth = Slot(db, name=f"truth_{db.name}")
    # checks are given time: a timeout under load would be a (correct) refusal, not a difference
    relay = relay_factory(db_dsn=db.dsn, args=["--rls-check-timeout-ms", "30000"]).wait_slot()

    async def body():
        clients = []
        for u in users:
            claims = {k: v for k, v in u["claims"].items() if k != "role"}
            c = await PhoenixClient.open(relay, "2.0.0", token=relay.token(role=u["role"], **claims))
            topic, _ = await subscribe(c, [binding(event=u["action"], table="items", filter=u["filter"]),
                                           binding(event="INSERT", table="marker")])
            clients.append((c, topic))
        made = random_changes(db, rng, CHANGES)
        got = await changes_until_marker(db, clients)
        systems = [[m["payload"] for m in c.inbox if m["event"] == "system"] for c, _ in clients]
        return made, got, systems

    made, got, systems = run(body())
    assert int(relay.metrics().get("realtime_rls_check_calls_total", 0)) >= 1, "the general path was exercised"
    docs = [d for d in truth.get(**{"include-unmatched": True})
            if d["type"] in ("INSERT", "UPDATE", "DELETE") and d["table"] == "items"]
    assert len(docs) == made, f"seed {SEED}"
    oracle_users = [{"id": u["n"], "role": u["role"], "claims": u["claims"], "where": u["where"]} for u in users]
    with closing(db.connect(autocommit=False)) as conn:
        answers = [oracle(db, conn, d, oracle_users) for d in docs]
    cases = told = 0
    for u, seen, system in zip(users, got, systems):
        raised = any(a.get(u["n"]) == "error" for a in answers)
        errors = [s for s in system if s.get("status") == "error"]
        cases += len(docs)
        if raised:
            # told once it is matched against a change (its event and filter may match none)
            assert seen == [], f"seed {SEED}: user {u} (Postgres raises) got {seen}, told {system}"
            told += bool(errors)
            continue
        assert errors == [], f"seed {SEED}: user {u} was told {errors}"
        assert [received(d) for d in seen] == expected(docs, answers, u), f"seed {SEED}: user {u}"
    print(f"\nseed {SEED}: {cases} cases, {sum(len(s) for s in got)} deliveries, {told} told")
    assert told >= 1, f"seed {SEED}: a user whose policy raises is told"
    assert sum(len(s) for s in got) > 0
    assert cases >= 1000
