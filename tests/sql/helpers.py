"""Helpers of the extension's SQL tests: users as JWT claims, authorization results, and
running statements as a user."""
import json
import uuid
from contextlib import closing

ALICE = str(uuid.UUID(int=1))
BOB = str(uuid.UUID(int=2))
CAROL = str(uuid.UUID(int=3))


def user(sub=None, role="authenticated", **extra):
    claims = {"role": role, "exp": 4102444800, **extra}
    if sub is not None:
        claims["sub"] = sub
    return claims


ANON = user(role="anon")
SERVICE = user(role="service_role")


def authorize(db, topic, claims, read=True, write=False, presence=True):
    """realtime.authorize as the relay calls it, as a dict."""
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM realtime.authorize(%s, %s::jsonb, %s, %s, %s)",
                        (topic, json.dumps(claims), read, write, presence))
            names = [c.name for c in cur.description]
            return dict(zip(names, cur.fetchone()))
    finally:
        conn.close()


def grants(result):
    """(broadcast_read, presence_read, broadcast_write, presence_write) of a result."""
    return (result["broadcast_read"], result["presence_read"],
            result["broadcast_write"], result["presence_write"])


def as_user(db, claims, sql, params=None, topic=None):
    """Runs sql as the user of claims in a committed transaction; returns the notices."""
    conn = db.connect(autocommit=False)
    with closing(conn):
        with conn.cursor() as cur:
            cur.execute("SELECT realtime.set_user_context(%s::jsonb, %s)", (json.dumps(claims), topic))
            cur.execute(sql, params)
        conn.commit()
        return list(conn.notices)


def broadcasts(docs):
    return [d for d in docs if d["type"] == "BROADCAST"]
