-- realtime.check_rows: the general path of row level security (docs/architecture.md,
-- "Row level security"), the one evaluation the relay and the tests share.
--
-- A row change document lists, under "checks", the candidates whose policies the plugin
-- could not decide alone (a membership sub-select, a function it cannot see through):
-- for each check the role, the qual as SQL over realtime_row (the row image, of the
-- table's row type) and realtime_user (claims, sub, role: the user's settings as text),
-- and whether the qual may read the settings in ways the plugin cannot see (per_user);
-- "check_row" is the row image as its record text. This function evaluates one check for
-- many candidates and rows at once, as the role: one statement for all of them when the
-- settings are visible in the qual, else one evaluation per candidate with its settings
-- set (still one round trip). It returns the candidates whose row passes, and those whose
-- evaluation raised (with the error, for the relay to tell that subscriber); the others
-- do not pass. Whatever the qual does is rolled back before it returns.
--
-- It runs SQL its caller gives it: only the relay may call it (EXECUTE is revoked from
-- PUBLIC), as a role allowed to SET ROLE to the subscribers' roles.

CREATE FUNCTION realtime.check_rows(
    schema_name text,           -- the document's schema and table
    table_name  text,
    role_name   name,           -- the check's "role"
    qual        text,           -- the check's "qual"
    per_user    boolean,        -- the check's "per_user"
    check_rows  text[],         -- the documents' "check_row"
    row_numbers int[],          -- per candidate: its row, 1-based in check_rows
    ids         bigint[])       -- per candidate: the subscription id
RETURNS TABLE (row_number int, subscription_id bigint, error text)
LANGUAGE plpgsql AS $$
DECLARE
    statement text;
    c_rows    int[];
    c_ids     bigint[];
    c_claims  text[];
    c_subs    text[];
    c_roles   text[];
    passed    record;
    -- The results, in builtin types only: after SET ROLE the role may not see realtime.
    r_rows    int[] := '{}';
    r_ids     bigint[] := '{}';
    r_errors  text[] := '{}';
BEGIN
    IF cardinality(row_numbers) IS DISTINCT FROM cardinality(ids) THEN
        RAISE EXCEPTION 'row_numbers and ids must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The users' settings, read before acting as the role (which cannot read them). A
    -- subscription that is gone, or was made for another role, is no candidate.
    SELECT array_agg(c.r ORDER BY c.n), array_agg(c.id ORDER BY c.n),
           array_agg(s.claims::text ORDER BY c.n),
           array_agg(coalesce(s.claims->>'sub', '') ORDER BY c.n),
           array_agg(coalesce(s.claims->>'role', '') ORDER BY c.n)
      INTO c_rows, c_ids, c_claims, c_subs, c_roles
      FROM unnest(row_numbers, ids) WITH ORDINALITY AS c(r, id, n)
      JOIN realtime.subscription s ON s.id = c.id AND s.claims_role = role_name;
    IF c_ids IS NULL THEN
        RETURN;
    END IF;
    statement := format(
        'SELECT realtime_user.r, realtime_user.id '
        'FROM unnest($1, $2, $3, $4, $5) AS realtime_user(r, id, claims, sub, role), '
        'LATERAL unnest(ARRAY[($6::text[])[realtime_user.r]::%s]) AS realtime_row '
        'WHERE %s',
        format('%I.%I', schema_name, table_name)::regclass, qual);

    BEGIN
        PERFORM set_config('role', role_name, true);
        IF NOT per_user THEN
            BEGIN
                FOR passed IN EXECUTE statement
                    USING c_rows, c_ids, c_claims, c_subs, c_roles, check_rows LOOP
                    r_rows := r_rows || passed.r;
                    r_ids := r_ids || passed.id;
                    r_errors := r_errors || NULL::text;
                END LOOP;
            EXCEPTION WHEN OTHERS THEN
                per_user := true;       -- someone's evaluation raises: find whose
                r_rows := '{}';
                r_ids := '{}';
                r_errors := '{}';
            END;
        END IF;
        IF per_user THEN
            FOR i IN 1 .. cardinality(c_ids) LOOP
                BEGIN
                    -- The user's settings (and role, the same), as everywhere else.
                    PERFORM realtime.set_user_context(c_claims[i]::jsonb);
                    FOR passed IN EXECUTE statement
                        USING c_rows[i:i], c_ids[i:i], c_claims[i:i], c_subs[i:i], c_roles[i:i],
                              check_rows LOOP
                        r_rows := r_rows || passed.r;
                        r_ids := r_ids || passed.id;
                        r_errors := r_errors || NULL::text;
                    END LOOP;
                EXCEPTION WHEN OTHERS THEN
                    r_rows := r_rows || c_rows[i];
                    r_ids := r_ids || c_ids[i];
                    r_errors := r_errors || SQLERRM;
                END;
            END LOOP;
        END IF;
        -- Undo whatever the qual did, and the role: the results live on in the variable.
        RAISE EXCEPTION USING ERRCODE = 'RTCHK';
    EXCEPTION WHEN SQLSTATE 'RTCHK' THEN
        NULL;
    END;
    RETURN QUERY SELECT * FROM unnest(r_rows, r_ids, r_errors);
END;
$$;

REVOKE ALL ON FUNCTION realtime.check_rows(text, text, name, text, boolean, text[], int[], bigint[])
    FROM PUBLIC;

COMMENT ON FUNCTION realtime.check_rows(text, text, name, text, boolean, text[], int[], bigint[]) IS
    'Evaluates a row change document''s check (row level security the plugin could not decide) for its candidates, as their role; returns who passes and whose evaluation raised';
