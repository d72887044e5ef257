-- realtime.messages (Supabase's table behind Realtime Authorization and broadcasts from
-- the database) and realtime.topic().

-- Supabase's columns, types and defaults, except that the timestamps are taken in UTC
-- whatever the session's TimeZone (partitions are UTC days, replay's "since" is a UTC
-- epoch) and from clock_timestamp(), so that the messages one transaction sends replay
-- in the order they were sent.
--
-- Row level security is enabled and there are no policies: until the application
-- creates some, only roles that bypass RLS (superusers, the owner, BYPASSRLS roles such
-- as Supabase's service_role) see or add rows. Policies decide everything else, which is
-- why the table privileges are granted to PUBLIC, as Supabase grants them to all of its
-- API roles.
CREATE TABLE realtime.messages (
    topic          text      NOT NULL,
    extension      text      NOT NULL,
    payload        jsonb,
    event          text,
    private        boolean   DEFAULT false,
    updated_at     timestamp NOT NULL DEFAULT timezone('UTC', clock_timestamp()),
    inserted_at    timestamp NOT NULL DEFAULT timezone('UTC', clock_timestamp()),
    id             uuid      NOT NULL DEFAULT gen_random_uuid(),
    binary_payload bytea,
    CONSTRAINT messages_payload_exclusive CHECK (payload IS NULL OR binary_payload IS NULL),
    CONSTRAINT messages_pkey PRIMARY KEY (id, inserted_at)
) PARTITION BY RANGE (inserted_at);

ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;

-- Replay reads one topic's newest private broadcasts.
CREATE INDEX messages_replay_idx ON realtime.messages (topic, inserted_at DESC)
    WHERE extension = 'broadcast' AND private IS TRUE;

-- Policies call realtime.topic() and insert into realtime.messages as the user's role.
GRANT USAGE ON SCHEMA realtime TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON realtime.messages TO PUBLIC;

COMMENT ON TABLE realtime.messages IS
    'Realtime broadcasts stored for replay, and the rows Realtime Authorization policies are written for (RLS decides who may read and write each topic)';

-- The topic being authorized (or sent to, inside realtime.send), for policies.
CREATE FUNCTION realtime.topic()
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Every committed broadcast row is delivered, however it was inserted (realtime.send,
-- broadcast_changes, realtime.broadcast, or a plain INSERT as Supabase allows): the
-- output plugin decodes the inserts into the partitions of this table and emits each row
-- with Supabase's conditions (extension 'broadcast', an event, a payload or a binary
-- payload, private not null) as a BROADCAST document, in commit order, once the
-- inserting transaction and subtransaction commit. No trigger and no logical message is
-- involved, so only rows that the table's grants and policies let in are broadcast.
