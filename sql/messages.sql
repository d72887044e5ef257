-- realtime.messages (Supabase's table behind Realtime Authorization and broadcasts from
-- the database), realtime.topic(), and the trigger that delivers its broadcast rows.

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
-- broadcast_changes, realtime.broadcast, or a plain INSERT as Supabase allows): the row
-- becomes a transactional logical message, so clients get it only once the inserting
-- transaction (and subtransaction) commits, in commit order with the row changes around
-- it. The id is the row's, so a client can match what it receives live with what replay
-- returns. A binary payload travels as base64 (logical messages here carry JSON text).
-- It runs as the extension's owner, so a site may revoke pg_logical_emit_message from
-- PUBLIC (which otherwise lets any role emit a broadcast past the table's policies).
CREATE FUNCTION realtime._deliver_message()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    PERFORM pg_logical_emit_message(true, 'realtime.broadcast',
        CASE WHEN NEW.binary_payload IS NULL
             THEN json_build_object('topic', NEW.topic, 'event', NEW.event, 'payload', NEW.payload,
                                    'private', NEW.private, 'id', NEW.id)
             ELSE json_build_object('topic', NEW.topic, 'event', NEW.event,
                                    'binary_payload', translate(encode(NEW.binary_payload, 'base64'), E'\n', ''),
                                    'private', NEW.private, 'id', NEW.id)
        END::text);
    RETURN NULL;
END;
$$;

-- Only rows Supabase would broadcast: authorization probes (no event, no payload) and
-- presence rows never are.
CREATE TRIGGER messages_deliver
    AFTER INSERT ON realtime.messages
    FOR EACH ROW
    WHEN (NEW.extension = 'broadcast' AND NEW.event IS NOT NULL AND NEW.private IS NOT NULL
          AND (NEW.payload IS NOT NULL OR NEW.binary_payload IS NOT NULL))
    EXECUTE FUNCTION realtime._deliver_message();
