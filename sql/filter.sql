-- Supabase's filter syntax: splitting, unquoting and realtime.parse_filter, which
-- validates every value and operator against the column's type.
--
-- Parsing is linear in the filter's length: the text is split in one pass (in C), each
-- condition is read once, and the typed checks run a few statements per column, not
-- per condition or per value. The text is capped at realtime._max_filter_bytes().

-- The longest filter text realtime.subscribe accepts, in bytes. Supabase's largest
-- filters fit well (an in list of 100 uuids is under 4 KB); the bound keeps the work of
-- one subscribe call small whatever a client sends.
CREATE FUNCTION realtime._max_filter_bytes()
RETURNS integer
LANGUAGE sql IMMUTABLE AS 'SELECT 16384';

-- Splits s at the separator character sep, ignoring separators inside double quotes and
-- (when parens is true) inside parentheses. Elements are trimmed of blanks. In C (one
-- pass over the bytes, pg_plugin/filter_syntax.cpp): building the parts a character at
-- a time in PL/pgSQL was quadratic in the length of the text.
CREATE FUNCTION realtime._split_top_level(s text, sep text, parens boolean)
RETURNS text[]
AS '$libdir/pg_realtime', 'pg_realtime_split_top_level'
LANGUAGE C IMMUTABLE STRICT;

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

-- Reads one condition, column=operator.value, into {"column", "op", "values"}. Only the
-- syntax is checked here; filter is the whole text, for messages.
CREATE FUNCTION realtime._parse_condition(cond text, filter text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    eq_pos    int := strpos(cond, '=');
    dot_pos   int := strpos(substr(cond, eq_pos + 1), '.');
    op        text;
    raw_value text;
    vals      text[];
BEGIN
    IF cond = '' THEN
        RAISE EXCEPTION 'empty condition in filter "%"', filter
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'conditions are separated by single commas';
    END IF;
    IF eq_pos <= 1 OR dot_pos = 0 THEN
        RAISE EXCEPTION 'malformed filter "%": expected column=operator.value', cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'for example user_id=eq.42 or status=in.(open,closed); join conditions with commas';
    END IF;
    op := lower(btrim(substr(cond, eq_pos + 1, dot_pos - 1)));
    raw_value := substr(cond, eq_pos + dot_pos + 1);
    IF op NOT IN ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in') THEN
        RAISE EXCEPTION 'unknown filter operator "%" in "%"', op, cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'operators are eq, neq, lt, lte, gt, gte and in';
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
    RETURN jsonb_build_object('column', realtime._unquote(btrim(left(cond, eq_pos - 1))),
                              'op', op, 'values', to_jsonb(vals));
END;
$$;

-- The position in vals of the first value the input call rejects, or 0. input_call is an
-- expression with %s where the value (a text) goes. One statement checks every value; only
-- when one fails does a binary search find which, so a long filter costs few statements.
CREATE FUNCTION realtime._first_invalid_value(input_call text, vals text[])
RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    batch text := format('SELECT count(%s) FROM unnest($1) AS t(v)', format(input_call, 'v'));
    lo    int := 1;
    hi    int := cardinality(vals);
    mid   int;
BEGIN
    BEGIN
        EXECUTE batch USING vals;
        RETURN 0;
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    WHILE lo < hi LOOP
        mid := (lo + hi) / 2;
        BEGIN
            EXECUTE batch USING vals[lo:mid];
            lo := mid + 1;
        EXCEPTION WHEN OTHERS THEN
            hi := mid;
        END;
    END LOOP;
    RETURN lo;
END;
$$;

-- Checks the conditions on one column of entity: that it exists, that each of ops exists
-- for its type, and that each value parses as the output plugin will parse it.
-- value_conds holds, for each value, the text of its condition (for messages).
CREATE FUNCTION realtime._check_column(entity regclass, col text, ops text[],
                                       value_list text[], value_conds text[])
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    col_type   text;
    input_call text;
    op         text;
    bad        int;
BEGIN
    -- The output plugin parses values with the column type's input function and the
    -- column's typmod (as a column value is parsed); a cast would differ (a cast to
    -- varchar(3) truncates where the input function rejects), so call that function.
    SELECT format_type(a.atttypid, a.atttypmod),
           CASE WHEN p.pronargs = 1
                THEN format('%I.%I(%%s::cstring)', pn.nspname, p.proname)
                ELSE format('%I.%I(%%s::cstring, %s::oid, %s)', pn.nspname, p.proname,
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

    FOREACH op IN ARRAY ops LOOP
        BEGIN
            EXECUTE format('SELECT NULL::%1$s %2$s NULL::%1$s', col_type,
                           CASE op WHEN 'eq' THEN '=' WHEN 'neq' THEN '<>' WHEN 'lt' THEN '<'
                                   WHEN 'lte' THEN '<=' WHEN 'gt' THEN '>' WHEN 'gte' THEN '>='
                                   WHEN 'in' THEN '=' END);
        EXCEPTION WHEN undefined_function THEN
            RAISE EXCEPTION 'operator % is not supported for column "%" of type %', op, col, col_type
                USING ERRCODE = 'undefined_function';
        END;
    END LOOP;

    bad := realtime._first_invalid_value(input_call, value_list);
    IF bad > 0 THEN
        BEGIN
            EXECUTE 'SELECT ' || format(input_call, quote_literal(value_list[bad]));
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'invalid value "%" for column "%" of type % in filter "%": %',
                            value_list[bad], col, col_type, value_conds[bad], SQLERRM
                USING ERRCODE = 'invalid_text_representation';
        END;
    END IF;
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
    parsed jsonb[] := '{}';
    conds  text[];
    cond   text;
    checks record;
BEGIN
    IF filter IS NULL OR btrim(filter) = '' THEN
        RETURN '[]';
    END IF;
    IF octet_length(filter) > realtime._max_filter_bytes() THEN
        RAISE EXCEPTION 'filter is % bytes long; at most % bytes are allowed',
                        octet_length(filter), realtime._max_filter_bytes()
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Supabase''s filters are short: an in list takes at most 100 values';
    END IF;
    conds := realtime._split_top_level(filter, ',', true);
    FOREACH cond IN ARRAY conds LOOP
        parsed := parsed || realtime._parse_condition(cond, filter);
    END LOOP;

    -- One check per column, in the order of first use, so errors follow the text.
    FOR checks IN
        SELECT p->>'column' AS col, array_agg(DISTINCT p->>'op') AS ops,
               array_agg(v ORDER BY n, k) AS vals, array_agg(c ORDER BY n, k) AS val_conds
          FROM unnest(parsed, conds) WITH ORDINALITY AS t(p, c, n),
               jsonb_array_elements_text(p->'values') WITH ORDINALITY AS e(v, k)
         GROUP BY p->>'column'
         ORDER BY min(n)
    LOOP
        PERFORM realtime._check_column(entity, checks.col, checks.ops, checks.vals,
                                       checks.val_conds);
    END LOOP;
    RETURN to_jsonb(parsed);
END;
$$;
