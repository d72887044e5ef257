-- Broadcast from SQL: Supabase's realtime.send, send_binary and broadcast_changes, and our
-- realtime.broadcast. All of them store the message as a row of realtime.messages in the
-- caller's transaction; the output plugin delivers it once that commits (messages.sql).

-- Supabase's realtime.send and send_binary, with their behaviour: the message is inserted
-- as the calling role (so realtime.messages' INSERT policies apply, with realtime.topic()
-- set to the topic for the rest of the transaction), a JSON payload gets the message's id
-- under "id" unless it has one, and any failure (a policy, a missing partition, a
-- payload that is not an object) is only a WARNING "WarnSendingBroadcastMessage: ...":
-- the caller's transaction goes on and nothing is sent. One of payload and
-- binary_payload is NULL.
CREATE FUNCTION realtime._send(payload jsonb, binary_payload bytea, event text, topic text, private boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    generated_id uuid;
BEGIN
    BEGIN
        generated_id := gen_random_uuid();
        IF NOT payload ? 'id' THEN
            payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
        END IF;
        PERFORM set_config('realtime.topic', topic, true);
        INSERT INTO realtime.messages (id, payload, binary_payload, event, topic, private, extension)
        VALUES (generated_id, payload, binary_payload, event, topic, private, 'broadcast');
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'WarnSendingBroadcastMessage: %', SQLERRM;
    END;
END;
$$;

CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
RETURNS void
LANGUAGE sql AS $$
    SELECT realtime._send(payload, NULL, event, topic, private);
$$;

-- A binary payload, which vsn 2.0.0 clients receive as a binary broadcast.
CREATE FUNCTION realtime.send_binary(payload bytea, event text, topic text, private boolean DEFAULT true)
RETURNS void
LANGUAGE sql AS $$
    SELECT realtime._send(NULL, payload, event, topic, private);
$$;

-- Supabase's realtime.broadcast_changes, for row triggers: sends
-- {"operation", "table", "schema", "record", "old_record"} (record is null for a
-- DELETE, old_record for an INSERT) through realtime.send, as a private message. Its
-- errors (a statement-level trigger, an unknown operation) are raised as
-- 'Failed to process the row: ...'; send's own failures stay warnings.
CREATE FUNCTION realtime.broadcast_changes(
    topic_name   text,
    event_name   text,
    operation    text,
    table_name   text,
    table_schema text,
    new          record,
    old          record,
    level        text DEFAULT 'ROW')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    row_data jsonb;
BEGIN
    IF level = 'STATEMENT' THEN
        RAISE EXCEPTION 'function can only be triggered for each row, not for each statement';
    END IF;
    IF operation IN ('INSERT', 'UPDATE', 'DELETE') THEN
        row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                                       'table', table_name, 'schema', table_schema);
        PERFORM realtime.send(row_data, event_name, topic_name);
    ELSE
        RAISE EXCEPTION 'Unexpected operation type: %', operation;
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'Failed to process the row: %', SQLERRM;
END;
$$;

-- Our own transactional broadcast (design 3.2): public by default, the payload sent as
-- given, and errors raised rather than downgraded to warnings, so a caller knows its
-- message was stored. It is stored, delivered and replayable like send's.
CREATE FUNCTION realtime.broadcast(topic text, event text, payload jsonb, private boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF topic IS NULL OR topic = '' THEN
        RAISE EXCEPTION 'topic must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF event IS NULL OR event = '' THEN
        RAISE EXCEPTION 'event must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (payload, event, topic, private, extension)
    VALUES (coalesce(payload, '{}'::jsonb), event, topic, coalesce(private, false), 'broadcast');
END;
$$;
