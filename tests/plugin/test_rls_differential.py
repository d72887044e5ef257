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
import os
import random
from contextlib import closing

import pytest

from support.rls_world import (ANON_COLUMNS, COLUMNS, FILTERS, ORGS, ROLES, SUBS, build_world, oracle, random_changes,
                               random_claims)

from .helpers import failed_of, recipients, subscribe_as

SEED = int(os.environ.get("RLS_SEED", "20261201"))
CHANGES = int(os.environ.get("RLS_CASES", "240"))
USERS = 40


@pytest.fixture
def world(app_db):
    build_world(app_db)
    yield app_db
    app_db.execute("DROP TABLE items, twin; DROP FUNCTION oracle")


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


def run_changes(db, rng):
    return random_changes(db, rng, CHANGES)


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
