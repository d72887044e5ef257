-- realtime.subscription: the catalog of postgres_changes subscriptions the output plugin reads.

-- One row per postgres_changes binding of a connected client.
--
-- user_catalog_table: the output plugin reads this table with the historic snapshot
-- during decoding, which Postgres only allows for catalogs. It also means the table can
-- never be rewritten (no VACUUM FULL, no ALTER TYPE) and refuses INSERT ... ON CONFLICT.
--
-- filters holds the parsed form of filter: a JSON array of
-- {"column": name, "op": "eq|neq|lt|lte|gt|gte|in", "values": [text, ...]}, one element
-- per ANDed condition; "values" has one element except for "in".
CREATE TABLE realtime.subscription (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id       text        NOT NULL CHECK (node_id <> ''),
    entity        regclass    NOT NULL,
    action_filter text        NOT NULL DEFAULT '*'
                  CHECK (action_filter IN ('*', 'INSERT', 'UPDATE', 'DELETE')),
    filter        text,
    filters       jsonb       NOT NULL DEFAULT '[]',
    claims        jsonb       NOT NULL DEFAULT '{}',
    claims_role   name,
    created_at    timestamptz NOT NULL DEFAULT now()
) WITH (user_catalog_table = true);

CREATE INDEX subscription_node_id_idx ON realtime.subscription (node_id);

COMMENT ON TABLE realtime.subscription IS
    'Realtime postgres_changes subscriptions; write it only through realtime.subscribe and realtime.unsubscribe*';
