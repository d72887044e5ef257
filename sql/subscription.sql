-- realtime.subscription: the catalog of postgres_changes subscriptions the output plugin reads.

-- One row per postgres_changes binding of a connected client.
--
-- user_catalog_table: the output plugin reads this table with the historic snapshot
-- during decoding, which Postgres only allows for catalogs. It also means the table can
-- never be rewritten (no VACUUM FULL, no ALTER TYPE) and refuses INSERT ... ON CONFLICT.
--
-- filters holds the parsed form of filter (realtime.parse_filter), which the output
-- plugin reads: a JSON array with one element per ANDed condition,
--   {"column": name, "op": op, "values": [...], "not": true, "operator": oid}
-- op: eq, neq, lt, lte, gt, gte, in, like, ilike, match, imatch, is or isdistinct.
-- values: text; one value, except for in (0 to 100, a JSON null being an SQL NULL of
--   the list); for is, one of "null", "true", "false", "unknown".
-- not: present (true) only for the not. prefix.
-- operator: like, ilike, match and imatch only: the pg_operator OID Postgres chose for
--   `column <op> 'pattern'` when the subscription was made.
--
-- A binding names one table (entity), or a whole schema (entity_schema, entity NULL):
-- every table of the schema that the publication supabase_realtime covers, including
-- tables created later (docs/architecture.md, "Whole-schema bindings").
-- select_columns is the binding's `select` option: the columns to send (the primary key
-- is always sent); NULL sends every column the role may read.
-- claims_role is the role every access check is made for: the claims' "role", else the
-- user who subscribed.
-- parked_at: when the subscription's client went away and its node parked it (it keeps
-- what arrives for it in memory, docs/architecture.md "Parked subscriptions"); NULL while
-- its client is connected (or before the node wrote the park: it writes them in batches).
-- realtime.adopt reads it: a dead node's parked row lost what that node kept since then.
CREATE TABLE realtime.subscription (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id       text        NOT NULL CHECK (node_id <> ''),
    entity        regclass,
    entity_schema regnamespace,
    action_filter text        NOT NULL DEFAULT '*'
                  CHECK (action_filter IN ('*', 'INSERT', 'UPDATE', 'DELETE')),
    filter        text,
    filters       jsonb       NOT NULL DEFAULT '[]',
    claims        jsonb       NOT NULL DEFAULT '{}',
    claims_role   name,
    select_columns text[],
    created_at    timestamptz NOT NULL DEFAULT now(),
    parked_at     timestamptz,
    CHECK ((entity IS NULL) <> (entity_schema IS NULL))
) WITH (user_catalog_table = true);

CREATE INDEX subscription_node_id_idx ON realtime.subscription (node_id);
-- realtime.adopt looks rows up by binding (a client resuming on another node).
CREATE INDEX subscription_entity_idx ON realtime.subscription (entity);

COMMENT ON TABLE realtime.subscription IS
    'Realtime postgres_changes subscriptions; write it only through realtime.subscribe and realtime.unsubscribe*';
