-- Broadcast from SQL: realtime.broadcast and Supabase's realtime.send.

-- Broadcasts travel as transactional logical messages: they reach clients only if the
-- transaction commits, in commit order with the row changes around them. The id lets
-- receivers drop a message delivered twice after a slot failover.
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
    PERFORM pg_logical_emit_message(true, 'realtime.broadcast',
        json_build_object('topic', topic, 'event', event,
                          'payload', coalesce(payload, '{}'::jsonb),
                          'private', coalesce(private, false),
                          'id', gen_random_uuid())::text);
END;
$$;

-- Supabase's signature, kept so that existing triggers and functions work unchanged.
CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
RETURNS void
LANGUAGE sql AS $$
    SELECT realtime.broadcast(topic, event, payload, private);
$$;
