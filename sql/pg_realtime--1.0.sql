-- pg_realtime 1.0: the catalog of realtime subscriptions and the SQL API around it.
--
-- Owns: realtime.subscription (read by the pg_realtime output plugin while decoding),
-- realtime.subscribe / unsubscribe / unsubscribe_node (all validation happens here, so
-- the plugin never parses user text), realtime.broadcast / realtime.send (transactional
-- broadcasts carried through the WAL), and realtime.nodes (the relay registry used for
-- cluster discovery and for cleaning up the rows of dead nodes).

\echo Use "CREATE EXTENSION pg_realtime" to load this file. \quit

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

-- Relays of a cluster announce themselves here; peers discover each other from it, and
-- the slot holder removes the subscriptions of nodes whose heartbeat went stale.
CREATE TABLE realtime.nodes (
    node_id          text        PRIMARY KEY,
    cluster_endpoint text,
    region           text,
    incarnation      text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_heartbeat   timestamptz NOT NULL DEFAULT now()
);

-- Splits s at the separator character sep, ignoring separators inside double quotes and
-- (when parens is true) inside parentheses. Elements are trimmed of blanks.
CREATE FUNCTION realtime._split_top_level(s text, sep text, parens boolean)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    parts  text[] := '{}';
    cur    text := '';
    depth  int := 0;
    quoted boolean := false;
    ch     text;
BEGIN
    FOR i IN 1 .. length(s) LOOP
        ch := substr(s, i, 1);
        IF ch = '"' THEN
            quoted := NOT quoted;
        ELSIF NOT quoted AND parens AND ch = '(' THEN
            depth := depth + 1;
        ELSIF NOT quoted AND parens AND ch = ')' THEN
            depth := greatest(depth - 1, 0);
        ELSIF NOT quoted AND depth = 0 AND ch = sep THEN
            parts := parts || btrim(cur);
            cur := '';
            CONTINUE;
        END IF;
        cur := cur || ch;
    END LOOP;
    IF quoted THEN
        RAISE EXCEPTION 'unterminated double quote in "%"', s
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN parts || btrim(cur);
END;
$$;

-- "abc" -> abc, with "" or \" inside standing for one double quote; other text unchanged.
CREATE FUNCTION realtime._unquote(s text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE
        WHEN length(s) >= 2 AND left(s, 1) = '"' AND right(s, 1) = '"'
        THEN replace(replace(substr(s, 2, length(s) - 2), '\"', '"'), '""', '"')
        ELSE s
    END;
$$;

-- Parses Supabase's filter syntax against the columns of entity and returns the parsed
-- form stored in realtime.subscription.filters. Every value is checked against the
-- column's type and every operator against the type's operators, so that the output
-- plugin can trust what it reads.
CREATE FUNCTION realtime.parse_filter(entity regclass, filter text)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    parsed     jsonb := '[]';
    cond       text;
    eq_pos     int;
    dot_pos    int;
    col        text;
    op         text;
    raw_value  text;
    vals       text[];
    val        text;
    col_type   text;
    input_call text;
    sql_op     text;
BEGIN
    IF filter IS NULL OR btrim(filter) = '' THEN
        RETURN parsed;
    END IF;
    FOREACH cond IN ARRAY realtime._split_top_level(filter, ',', true) LOOP
        IF cond = '' THEN
            RAISE EXCEPTION 'empty condition in filter "%"', filter
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'conditions are separated by single commas';
        END IF;
        eq_pos := strpos(cond, '=');
        dot_pos := strpos(substr(cond, eq_pos + 1), '.');
        IF eq_pos <= 1 OR dot_pos = 0 THEN
            RAISE EXCEPTION 'malformed filter "%": expected column=operator.value', cond
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'for example user_id=eq.42 or status=in.(open,closed); join conditions with commas';
        END IF;
        col := realtime._unquote(btrim(left(cond, eq_pos - 1)));
        op := lower(btrim(substr(cond, eq_pos + 1, dot_pos - 1)));
        raw_value := substr(cond, eq_pos + dot_pos + 1);

        sql_op := CASE op WHEN 'eq' THEN '=' WHEN 'neq' THEN '<>' WHEN 'lt' THEN '<'
                          WHEN 'lte' THEN '<=' WHEN 'gt' THEN '>' WHEN 'gte' THEN '>='
                          WHEN 'in' THEN '=' END;
        IF sql_op IS NULL THEN
            RAISE EXCEPTION 'unknown filter operator "%" in "%"', op, cond
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'operators are eq, neq, lt, lte, gt, gte and in';
        END IF;

        -- The output plugin parses values with the column type's input function and the
        -- column's typmod (as a column value is parsed); a cast would differ (a cast to
        -- varchar(3) truncates where the input function rejects), so call that function.
        SELECT format_type(a.atttypid, a.atttypmod),
               CASE WHEN p.pronargs = 1
                    THEN format('SELECT %I.%I(%%L::cstring)', pn.nspname, p.proname)
                    ELSE format('SELECT %I.%I(%%L::cstring, %s::oid, %s)', pn.nspname, p.proname,
                                CASE WHEN t.typelem <> 0 THEN t.typelem ELSE t.oid END,
                                a.atttypmod)
               END
          INTO col_type, input_call
          FROM pg_attribute a
          JOIN pg_type t ON t.oid = a.atttypid
          JOIN pg_proc p ON p.oid = t.typinput
          JOIN pg_namespace pn ON pn.oid = p.pronamespace
         WHERE a.attrelid = entity AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column "%" does not exist in table %', col, entity
                USING ERRCODE = 'undefined_column';
        END IF;

        IF op = 'in' THEN
            IF raw_value !~ '^\s*\(.*\)\s*$' THEN
                RAISE EXCEPTION 'malformed filter "%": the in operator takes a list in parentheses', cond
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'for example status=in.(open,closed)';
            END IF;
            raw_value := btrim(raw_value);
            vals := realtime._split_top_level(substr(raw_value, 2, length(raw_value) - 2), ',', false);
            IF vals = '{""}' THEN
                RAISE EXCEPTION 'malformed filter "%": the in list is empty', cond
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF cardinality(vals) > 100 THEN
                RAISE EXCEPTION 'filter "%" has % values in its in list; at most 100 are allowed',
                                cond, cardinality(vals)
                    USING ERRCODE = 'program_limit_exceeded';
            END IF;
            SELECT array_agg(realtime._unquote(v) ORDER BY n) INTO vals
              FROM unnest(vals) WITH ORDINALITY AS t(v, n);
        ELSE
            vals := ARRAY[realtime._unquote(raw_value)];
        END IF;

        FOREACH val IN ARRAY vals LOOP
            BEGIN
                EXECUTE format(input_call, val);
            EXCEPTION WHEN OTHERS THEN
                RAISE EXCEPTION 'invalid value "%" for column "%" of type % in filter "%": %',
                                val, col, col_type, cond, SQLERRM
                    USING ERRCODE = 'invalid_text_representation';
            END;
        END LOOP;

        BEGIN
            EXECUTE format('SELECT NULL::%1$s %2$s NULL::%1$s', col_type, sql_op);
        EXCEPTION WHEN undefined_function THEN
            RAISE EXCEPTION 'operator % is not supported for column "%" of type %', op, col, col_type
                USING ERRCODE = 'undefined_function';
        END;

        parsed := parsed || jsonb_build_array(
            jsonb_build_object('column', col, 'op', op, 'values', to_jsonb(vals)));
    END LOOP;
    RETURN parsed;
END;
$$;

-- Refuses what the relay must never deliver: a role that cannot read the table or a
-- filter column, and a table whose row level security applies to the role (rows are
-- not checked against policies yet, so nothing from such a table may be sent).
CREATE FUNCTION realtime._check_access(entity regclass, role_name name, filters jsonb)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rls_on     boolean;
    rls_forced boolean;
    owner_oid  oid;
    role_oid   oid;
    bypass     boolean;
    col        text;
BEGIN
    SELECT r.oid, r.rolsuper OR r.rolbypassrls INTO role_oid, bypass
      FROM pg_roles r WHERE r.rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'the role comes from the "role" claim of the JWT';
    END IF;

    IF NOT has_table_privilege(role_oid, entity, 'SELECT')
       AND EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = entity AND a.attnum > 0 AND NOT a.attisdropped
                      AND NOT has_column_privilege(role_oid, entity, a.attnum, 'SELECT')) THEN
        RAISE EXCEPTION 'permission denied: role "%" cannot SELECT from table %', role_name, entity
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR col IN SELECT f->>'column' FROM jsonb_array_elements(filters) f LOOP
        IF NOT has_column_privilege(role_oid, entity, col, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied: role "%" cannot SELECT column "%" of table %',
                            role_name, col, entity
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;

    SELECT c.relrowsecurity, c.relforcerowsecurity, c.relowner INTO rls_on, rls_forced, owner_oid
      FROM pg_class c WHERE c.oid = entity;
    IF rls_on AND NOT bypass AND (role_oid <> owner_oid OR rls_forced) THEN
        RAISE EXCEPTION 'Unauthorized: table % has row level security enabled and it applies to role "%"; postgres_changes does not check rows against policies yet, so this subscription is refused',
                        entity, role_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

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
