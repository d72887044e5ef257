-- realtime.subscribe / unsubscribe / unsubscribe_node: the only writers of
-- realtime.subscription.

CREATE FUNCTION realtime.subscribe(
    node_id       text,
    entity        regclass,
    action_filter text  DEFAULT '*',
    filter        text  DEFAULT NULL,
    claims        jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    action   text := upper(btrim(coalesce(action_filter, '*')));
    relkind  "char";
    persist  "char";
    nsp      name;
    parsed   jsonb;
    role_name name;
    new_id   bigint;
BEGIN
    IF node_id IS NULL OR node_id = '' THEN
        RAISE EXCEPTION 'node_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF entity IS NULL THEN
        RAISE EXCEPTION 'entity must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF action NOT IN ('*', 'INSERT', 'UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'invalid action filter "%"', action_filter
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'use *, INSERT, UPDATE or DELETE';
    END IF;
    claims := coalesce(claims, '{}');
    IF jsonb_typeof(claims) <> 'object' THEN
        RAISE EXCEPTION 'claims must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT c.relkind, c.relpersistence, n.nspname INTO relkind, persist, nsp
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = entity;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table with OID % does not exist', entity::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', entity USING ERRCODE = 'wrong_object_type';
    END IF;
    IF nsp IN ('pg_catalog', 'information_schema', 'realtime') THEN
        RAISE EXCEPTION 'cannot subscribe to changes of %: it is a system or realtime catalog', entity
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF persist <> 'p' THEN
        RAISE EXCEPTION 'cannot subscribe to changes of %: an unlogged or temporary table is not written to the WAL', entity
            USING ERRCODE = 'wrong_object_type';
    END IF;

    parsed := realtime.parse_filter(entity, filter);
    role_name := coalesce(claims->>'role', current_user);
    PERFORM realtime._check_access(entity, role_name, parsed);

    INSERT INTO realtime.subscription (node_id, entity, action_filter, filter, filters, claims, claims_role)
    VALUES (subscribe.node_id, subscribe.entity, action, nullif(btrim(subscribe.filter), ''), parsed,
            subscribe.claims, role_name)
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$$;

COMMENT ON FUNCTION realtime.subscribe(text, regclass, text, text, jsonb) IS
    'Adds a postgres_changes subscription for a relay node; filter uses Supabase syntax (column=op.value, ANDed with commas)';

CREATE FUNCTION realtime.unsubscribe(id bigint)
RETURNS boolean
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM realtime.subscription s WHERE s.id = unsubscribe.id RETURNING 1)
    SELECT count(*) > 0 FROM gone;
$$;

CREATE FUNCTION realtime.unsubscribe_node(node_id text)
RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM realtime.subscription s WHERE s.node_id = unsubscribe_node.node_id RETURNING 1)
    SELECT count(*)::integer FROM gone;
$$;
