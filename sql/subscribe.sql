-- realtime.subscribe / update_claims / unsubscribe / unsubscribe_node: the only writers
-- of realtime.subscription.

-- What every binding must get right, with or without a table: the node, the action
-- filter (returned normalized) and the claims (a JSON object, returned non-NULL).
CREATE FUNCTION realtime._check_binding(node_id text, action_filter text, INOUT claims jsonb,
                                        OUT action text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    action := upper(btrim(coalesce(action_filter, '*')));
    IF node_id IS NULL OR node_id = '' THEN
        RAISE EXCEPTION 'node_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
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
END;
$$;

-- Schemas whose tables are never subscribable.
CREATE FUNCTION realtime._check_schema_subscribable(nsp name, what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF nsp IN ('pg_catalog', 'information_schema', 'realtime') OR nsp LIKE 'pg\_toast%' THEN
        RAISE EXCEPTION 'cannot subscribe to changes of %: it is a system or realtime catalog', what
            USING ERRCODE = 'wrong_object_type';
    END IF;
END;
$$;

-- select_columns: the binding's select option (NULL or empty: every readable column).
CREATE FUNCTION realtime.subscribe(
    node_id        text,
    entity         regclass,
    action_filter  text  DEFAULT '*',
    filter         text  DEFAULT NULL,
    claims         jsonb DEFAULT '{}',
    select_columns text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    binding   record := realtime._check_binding(node_id, action_filter, claims);
    relkind   "char";
    persist   "char";
    nsp       name;
    parsed    jsonb;
    role_name name;
    new_id    bigint;
BEGIN
    IF entity IS NULL THEN
        RAISE EXCEPTION 'entity must not be null' USING ERRCODE = 'invalid_parameter_value';
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
    PERFORM realtime._check_schema_subscribable(nsp, entity::text);
    IF persist <> 'p' THEN
        RAISE EXCEPTION 'cannot subscribe to changes of %: an unlogged or temporary table is not written to the WAL', entity
            USING ERRCODE = 'wrong_object_type';
    END IF;

    parsed := realtime.parse_filter(entity, filter);
    role_name := coalesce(binding.claims->>'role', current_user);
    select_columns := nullif(select_columns, '{}');
    PERFORM realtime._check_access(entity, role_name, parsed, select_columns);

    INSERT INTO realtime.subscription (node_id, entity, action_filter, filter, filters, claims,
                                       claims_role, select_columns)
    VALUES (subscribe.node_id, subscribe.entity, binding.action, nullif(btrim(subscribe.filter), ''),
            parsed, binding.claims, role_name, subscribe.select_columns)
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$$;

COMMENT ON FUNCTION realtime.subscribe(text, regclass, text, text, jsonb, text[]) IS
    'Adds a postgres_changes subscription for a relay node; filter uses Supabase syntax (column=op.value, ANDed with commas)';

-- A whole-schema binding ({schema: 'public'} with no table, or table '*'): every table
-- of the schema in the publication supabase_realtime, tables created later included,
-- each checked for the role as a binding naming it would be. Filters need a table, so
-- none is taken here; select_columns names columns to send where a table has them.
CREATE FUNCTION realtime.subscribe_schema(
    node_id        text,
    schema_name    name,
    action_filter  text  DEFAULT '*',
    claims         jsonb DEFAULT '{}',
    select_columns text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    binding   record := realtime._check_binding(node_id, action_filter, claims);
    nsp       oid;
    role_name name;
    new_id    bigint;
BEGIN
    SELECT n.oid INTO nsp FROM pg_namespace n WHERE n.nspname = schema_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema "%" does not exist', schema_name USING ERRCODE = 'invalid_schema_name';
    END IF;
    PERFORM realtime._check_schema_subscribable(schema_name, format('schema %I', schema_name));
    role_name := coalesce(binding.claims->>'role', current_user);
    PERFORM realtime._check_schema_usage(nsp, role_name);

    INSERT INTO realtime.subscription (node_id, entity_schema, action_filter, claims, claims_role,
                                       select_columns)
    VALUES (subscribe_schema.node_id, nsp, binding.action, binding.claims, role_name,
            nullif(subscribe_schema.select_columns, '{}'))
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$$;

COMMENT ON FUNCTION realtime.subscribe_schema(text, name, text, jsonb, text[]) IS
    'Adds a postgres_changes subscription to every table of a schema in the publication supabase_realtime';

-- A refreshed token (the relay's access_token): the subscriptions ids take the new claims
-- and their role, in one statement, so every change committed after it is decided with
-- them (the decoder applies the UPDATE in commit order; realtime.check_rows reads the
-- claims from here). Each row is checked for the new role as realtime.subscribe checks
-- it; one the new role cannot have is deleted and returned with the reason, the others
-- are updated. Ids that are not rows are ignored.
CREATE FUNCTION realtime.update_claims(ids bigint[], claims jsonb)
RETURNS TABLE (id bigint, error text)
LANGUAGE plpgsql AS $$
DECLARE
    s         realtime.subscription;
    role_name name;
BEGIN
    claims := coalesce(claims, '{}');
    IF jsonb_typeof(claims) <> 'object' THEN
        RAISE EXCEPTION 'claims must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    role_name := coalesce(claims->>'role', current_user);
    FOR s IN SELECT * FROM realtime.subscription r WHERE r.id = ANY (ids) ORDER BY r.id FOR UPDATE LOOP
        BEGIN
            IF s.entity IS NOT NULL THEN
                PERFORM realtime._check_access(s.entity, role_name, s.filters, s.select_columns);
            ELSE
                PERFORM realtime._check_schema_usage(s.entity_schema, role_name);
            END IF;
            UPDATE realtime.subscription r SET claims = update_claims.claims, claims_role = role_name
             WHERE r.id = s.id;
        EXCEPTION WHEN insufficient_privilege OR undefined_object OR undefined_column THEN
            DELETE FROM realtime.subscription r WHERE r.id = s.id;
            id := s.id;
            error := SQLERRM;
            RETURN NEXT;
        END;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION realtime.update_claims(bigint[], jsonb) IS
    'Gives subscriptions the claims of a refreshed token; returns (and deletes) those the new role may not have';

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

-- What claims grant, for comparing a parked subscription's with a rejoining token's:
-- the claims without those that only say when a token is valid and which token it is
-- (exp, iat, nbf, jti), which a refreshed token changes. The relay's same_grant
-- (relay/protocol/jwt.h) leaves out the same names.
CREATE FUNCTION realtime._lasting_claims(claims jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT claims - ARRAY['exp', 'iat', 'nbf', 'jti']
$$;

-- A client resuming on another node than the one it was on (docs/architecture.md,
-- "Parked subscriptions"): moves to node_id the oldest subscription with these binding
-- and claims (role, sub, and the claims object equal as jsonb but for the time claims:
-- realtime._lasting_claims) that belongs to a node no longer alive (no registry beat for
-- silent_for), and returns its id; NULL when there is none. The moved row takes claims
-- (a token refreshed while away has a later exp), in the same row change as the move.
-- The move is a row change of realtime.subscription, so the decoder switches the
-- subscription to node_id, and to the new claims, exactly at the move's place in the WAL. Whole-schema
-- bindings are not adopted (the relay subscribes them anew). live_elsewhere: the same
-- subscription exists on a node that still beats (its client, or another of the same
-- user, may be connected there). claims_changed_since (epoch seconds, when none was
-- moved): a dead node's row for the same binding, role and sub was made with other claims
-- (e.g. another org_id a policy reads): it is not moved, since what the slot holder kept
-- for it was decided by those claims; the value is that node's last beat, since when the
-- client missed changes. lost_since (epoch seconds): the moved row was parked on the dead
-- node (parked_at): what that node kept for it in memory since then died with it (it had
-- confirmed those changes to the slot holder), so the client missed changes since then.
-- A row parked on a node that still beats (its client went away there, parked_at set) is
-- moved too, at once: parked_on names that node, which keeps its changes since lost_since
-- and hands them over when asked (hub/kept_transfer). A live node's row not parked (its
-- client, or another tab of the same user, connected there) is never moved.
-- The moved row is no longer parked: its client is connected here.
CREATE FUNCTION realtime.adopt(node_id text, entity regclass, action_filter text, filter text,
                               claims_role text, claims_sub text, silent_for interval,
                               select_columns text[], claims jsonb,
                               OUT id bigint, OUT live_elsewhere boolean, OUT claims_changed_since bigint,
                               OUT lost_since bigint, OUT parked_on text)
LANGUAGE sql AS $$
    WITH candidates AS (
        SELECT x.id, x.node_id, x.parked_at,
               realtime._lasting_claims(x.claims) = realtime._lasting_claims(adopt.claims) AS same_claims,
               (SELECT n.last_heartbeat FROM realtime.nodes n WHERE n.node_id = x.node_id) AS beat
        FROM realtime.subscription x
        WHERE x.node_id <> adopt.node_id AND x.entity = adopt.entity
          AND x.action_filter = adopt.action_filter
          AND coalesce(x.filter, '') = coalesce(adopt.filter, '')
          AND coalesce(x.claims->>'role', '') = adopt.claims_role
          AND coalesce(x.claims->>'sub', '') = adopt.claims_sub
          AND x.select_columns IS NOT DISTINCT FROM nullif(adopt.select_columns, '{}')
    ), judged AS (
        SELECT c.*, coalesce(c.beat > now() - adopt.silent_for, false) AS alive FROM candidates c
    ), chosen AS (
        SELECT j.id, j.node_id, j.parked_at, j.alive FROM judged j
        WHERE j.same_claims AND (NOT j.alive OR j.parked_at IS NOT NULL)
        ORDER BY j.alive, j.id LIMIT 1
    ), moved AS (
        UPDATE realtime.subscription s SET node_id = adopt.node_id, claims = coalesce(adopt.claims, s.claims),
                                           parked_at = NULL
        -- node_id too: of two resuming at once, the second finds the row moved and takes none.
        WHERE (s.id, s.node_id) = (SELECT c.id, c.node_id FROM chosen c)
        RETURNING s.id
    )
    SELECT (SELECT moved.id FROM moved), EXISTS (SELECT 1 FROM judged j WHERE j.alive AND j.parked_at IS NULL),
           (SELECT extract(epoch FROM min(coalesce(j.beat, now())))::bigint
            FROM judged j WHERE NOT j.alive AND NOT j.same_claims),
           (SELECT floor(extract(epoch FROM c.parked_at))::bigint FROM chosen c JOIN moved m ON m.id = c.id),
           (SELECT c.node_id FROM chosen c JOIN moved m ON m.id = c.id WHERE c.alive);
$$;

-- A node records which of its subscriptions it parked (their clients went away; parked:
-- the ids, at: when each was parked, epoch seconds) and which it no longer parks
-- (cleared: adopted by a client that came back to it). One call per batch of parks,
-- whatever their number (docs/architecture.md, "Parked subscriptions"). Only the node's
-- own rows: one another node adopted meanwhile is that node's.
CREATE FUNCTION realtime.mark_parked(node_id text, parked bigint[], parked_at float8[], cleared bigint[])
RETURNS void
LANGUAGE sql AS $$
    UPDATE realtime.subscription s SET parked_at = NULL
    WHERE s.id = ANY (mark_parked.cleared) AND s.node_id = mark_parked.node_id AND s.parked_at IS NOT NULL;
    UPDATE realtime.subscription s SET parked_at = to_timestamp(p.at)
    FROM unnest(mark_parked.parked, mark_parked.parked_at) AS p(id, at)
    WHERE s.id = p.id AND s.node_id = mark_parked.node_id;
$$;

COMMENT ON FUNCTION realtime.mark_parked(text, bigint[], float8[], bigint[]) IS
    'A relay records the subscriptions it parked (their clients away) and those it no longer parks';
