-- realtime.check_rows: the general path of row level security (docs/architecture.md,
-- "Row level security"), the one evaluation the relay and the tests share.
--
-- A row change document lists, under "checks", the candidates whose policies the plugin
-- could not decide alone (a membership sub-select, a function it cannot see through):
-- for each check the role, the quals (SQL over realtime_row, the row image of the
-- table's row type, and realtime_user(claims, sub, role), the user's settings as text;
-- a candidate passes if one of them holds), and whether they may read the settings in
-- ways the plugin cannot see (per_user); "check_row" is the row image as its record
-- text. This function evaluates one check for a batch of rows (of documents with the
-- same schema, table, role and quals) against a set of candidates, every row against
-- every candidate or, with pair_rows, each candidate against its own row, as the role: one statement per qual for all of them when the
-- settings are visible in the quals (Postgres then joins the candidates with a
-- membership table once, instead of querying it per candidate), else one statement per
-- candidate with its settings set; always one round trip. It returns the (row,
-- candidate) pairs that pass, and the candidates whose evaluation raised (with the
-- error, for the relay to tell that subscriber); the others do not pass. The caller
-- delivers a row to a candidate only if that document listed it. Whatever the quals do
-- is rolled back before it returns.
--
-- It runs SQL its caller gives it: only the relay may call it (EXECUTE is revoked from
-- PUBLIC), as a role allowed to SET ROLE to the subscribers' roles.

CREATE FUNCTION realtime.check_rows(
    schema_name text,           -- the documents' schema and table
    table_name  text,
    role_name   name,           -- the check's "role"
    quals       text[],         -- the check's "quals"
    per_user    boolean,        -- the check's "per_user"
    check_rows  text[],         -- the documents' "check_row", numbered from 1
    ids         bigint[],       -- candidates, each checked against every row, or
    pair_rows   int[] DEFAULT NULL)  -- given: ids[k] is checked against row pair_rows[k] only
RETURNS TABLE (row_number int, subscription_id bigint, error text)
LANGUAGE plpgsql AS $$
DECLARE
    rel       regclass := format('%I.%I', schema_name, table_name)::regclass;
    watched   oid[];
    statement text;
    c_ids     bigint[];
    c_claims  text[];
    c_subs    text[];
    c_roles   text[];
    p_ids     bigint[];         -- the pairs to check, of candidates only
    p_rows    int[];
    -- The results, in builtin types only: after SET ROLE the role may not see realtime.
    r_rows    int[] := '{}';
    r_ids     bigint[] := '{}';
    r_errors  text[] := '{}';
BEGIN
    IF cardinality(quals) IS NULL THEN
        RAISE EXCEPTION 'a check has at least one qual' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The users' settings, read before acting as the role (which cannot read them). A
    -- candidate must be a subscription of that role on that table (or a partitioned
    -- ancestor, or its schema): anything else is no candidate.
    watched := ARRAY[rel::oid] || ARRAY(SELECT relid::oid FROM pg_partition_ancestors(rel));
    SELECT array_agg(s.id ORDER BY s.id), array_agg(s.claims::text ORDER BY s.id),
           array_agg(coalesce(s.claims->>'sub', '') ORDER BY s.id),
           array_agg(coalesce(s.claims->>'role', '') ORDER BY s.id)
      INTO c_ids, c_claims, c_subs, c_roles
      FROM realtime.subscription s
     WHERE s.id = ANY (ids) AND s.claims_role = role_name
       AND (s.entity = ANY (watched)
            OR s.entity_schema = (SELECT c.relnamespace FROM pg_class c WHERE c.oid = rel));
    IF c_ids IS NULL OR cardinality(check_rows) IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(pair_rows) IS DISTINCT FROM cardinality(ids) AND pair_rows IS NOT NULL THEN
        RAISE EXCEPTION 'pair_rows must have one row number per id' USING ERRCODE = 'invalid_parameter_value';
    ELSIF pair_rows IS NOT NULL THEN
        SELECT coalesce(array_agg(p.id), '{}'), coalesce(array_agg(p.n), '{}') INTO p_ids, p_rows
          FROM unnest(ids, pair_rows) p(id, n)
         WHERE p.n BETWEEN 1 AND cardinality(check_rows) AND p.id IN (SELECT unnest(c_ids));
    END IF;
    -- Every row against every candidate when that is what is asked (Postgres then joins
    -- all candidates with a membership table at once); else only the pairs asked for,
    -- so a batch of documents with different candidates (other filters) does not check
    -- every row against the union of them.
    IF pair_rows IS NULL OR cardinality(p_ids) >= cardinality(c_ids) * cardinality(check_rows) THEN
        SELECT string_agg(format(
                   'SELECT realtime_rows.n, realtime_user.id '
                   'FROM unnest($1::text[]) WITH ORDINALITY AS realtime_rows(image, n) '
                   'CROSS JOIN LATERAL unnest(ARRAY[realtime_rows.image::%s]) AS realtime_row '
                   'CROSS JOIN unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) '
                   'AS realtime_user(id, claims, sub, role) WHERE %s', rel, q), ' UNION ')
          INTO statement FROM unnest(quals) q;
    ELSE
        SELECT string_agg(format(
                   'SELECT realtime_rows.n, realtime_user.id '
                   'FROM unnest($6::bigint[], $7::int[]) AS realtime_pair(id, n) '
                   'JOIN unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) '
                   'AS realtime_user(id, claims, sub, role) ON realtime_user.id = realtime_pair.id '
                   'JOIN unnest($1::text[]) WITH ORDINALITY AS realtime_rows(image, n) '
                   'ON realtime_rows.n = realtime_pair.n '
                   'CROSS JOIN LATERAL unnest(ARRAY[realtime_rows.image::%s]) AS realtime_row WHERE %s', rel, q),
                   ' UNION ')
          INTO statement FROM unnest(quals) q;
    END IF;

    BEGIN
        PERFORM set_config('role', role_name, true);
        IF NOT per_user THEN
            BEGIN
                -- Aggregated by the statement itself: appending pair by pair copies the
                -- arrays each time, which is quadratic when most pairs pass (100 rows
                -- against 1 000 candidates took seconds).
                EXECUTE format('SELECT coalesce(array_agg(n::int), ''{}''), coalesce(array_agg(id), ''{}''), '
                               'coalesce(array_agg(NULL::text), ''{}'') FROM (%s) AS realtime_passed', statement)
                   INTO r_rows, r_ids, r_errors
                  USING check_rows, c_ids, c_claims, c_subs, c_roles, p_ids, p_rows;
            EXCEPTION WHEN OTHERS THEN
                per_user := true;       -- someone's evaluation raises: find whose
                r_rows := '{}';
                r_ids := '{}';
                r_errors := '{}';
            END;
        END IF;
        IF per_user THEN
            -- The statement as the static SQL of a temporary function, planned once for
            -- all candidates (dynamic SQL is planned at each EXECUTE). It is made as the
            -- caller, and goes with the rollback below.
            PERFORM set_config('role', 'none', true);
            EXECUTE format('CREATE FUNCTION pg_temp.realtime_check(text[], bigint[], text[], text[], '
                           'text[], bigint[], int[]) RETURNS TABLE (n bigint, id bigint) LANGUAGE plpgsql AS '
                           '$realtime_check$ BEGIN RETURN QUERY %s; END $realtime_check$', statement);
            PERFORM set_config('role', role_name, true);
            FOR i IN 1 .. cardinality(c_ids) LOOP
                BEGIN
                    -- The user's settings (and role, the same), as everywhere else.
                    PERFORM realtime.set_user_context(c_claims[i]::jsonb);
                    SELECT r_rows || coalesce(array_agg(p.n::int), '{}'), r_ids || coalesce(array_agg(p.id), '{}'),
                           r_errors || coalesce(array_agg(NULL::text), '{}')
                      INTO r_rows, r_ids, r_errors
                      FROM pg_temp.realtime_check(check_rows, c_ids[i:i], c_claims[i:i], c_subs[i:i],
                                                  c_roles[i:i], p_ids, p_rows) AS p;
                EXCEPTION WHEN OTHERS THEN
                    r_rows := r_rows || NULL::int;
                    r_ids := r_ids || c_ids[i];
                    r_errors := r_errors || SQLERRM;
                END;
            END LOOP;
        END IF;
        -- Undo whatever the quals did, and the role: the results live on in the variables.
        RAISE EXCEPTION USING ERRCODE = 'RTCHK';
    EXCEPTION WHEN SQLSTATE 'RTCHK' THEN
        NULL;
    END;
    RETURN QUERY SELECT * FROM unnest(r_rows, r_ids, r_errors);
END;
$$;

REVOKE ALL ON FUNCTION realtime.check_rows(text, text, name, text[], boolean, text[], bigint[], int[])
    FROM PUBLIC;

COMMENT ON FUNCTION realtime.check_rows(text, text, name, text[], boolean, text[], bigint[], int[]) IS
    'Evaluates a row change document''s check (row level security the plugin could not decide) for rows and candidates, as their role; returns the pairs that pass and whose evaluation raised';
