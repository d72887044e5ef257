-- Supabase's filter syntax, as its server reads it: splitting, unquoting and
-- realtime.parse_filter, which validates every value and operator against the column's
-- type and stores the parsed form the output plugin reads (sql/subscription.sql).
--
-- The grammar (Extensions.PostgresCdcRls.Subscriptions in Supabase Realtime): conditions
-- column=op.value joined by commas (ANDed); op one of eq, neq, lt, lte, gt, gte, in,
-- like, ilike, match, imatch, is, isdistinct, lower case, optionally after "not.";
-- `in` takes a parenthesised list read as a Postgres array literal (quotes, backslash
-- escapes, NULL), at most 100 values; `is` takes null, true, false or unknown; other
-- values may be double quoted, with \x standing for x. Two deliberate extensions: the
-- column name is trimmed and may be quoted too.
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

-- The conditions of a filter, trimmed: commas separate them except inside parentheses
-- and inside double quotes opened after '.', '(' or ','. In C (one pass over the bytes,
-- pg_plugin/filter_syntax.cpp): building them a character at a time in PL/pgSQL was
-- quadratic in the length of the text.
CREATE FUNCTION realtime._split_filter(filter text)
RETURNS text[]
AS '$libdir/pg_realtime', 'pg_realtime_split_filter'
LANGUAGE C IMMUTABLE STRICT;

-- The operator Postgres applies to `col <op> 'pattern'` on entity (op like, ilike, match
-- or imatch), once the pattern is proven usable: see pg_plugin/pattern_op.h.
CREATE FUNCTION realtime._pattern_operator(entity regclass, col text, op text, pattern text)
RETURNS oid
AS '$libdir/pg_realtime', 'pg_realtime_pattern_operator'
LANGUAGE C STABLE STRICT;

-- Whether the output plugin can evaluate comparison op (eq, neq, lt, lte, gt, gte, in,
-- isdistinct) on column col of entity: it compares with the default btree (or, for
-- equality, hash) operator class of the column's type, which some types that have the
-- SQL operator lack (box has `=` and `<`). See pg_plugin/filter.cpp.
CREATE FUNCTION realtime._filter_op_supported(entity regclass, col text, op text)
RETURNS boolean
AS '$libdir/pg_realtime', 'pg_realtime_filter_op_supported'
LANGUAGE C STABLE STRICT;

-- "abc" -> abc, a backslash standing for the character after it; anything else (not
-- quoted, or not closed by its last character) is returned as it is, quotes included.
CREATE FUNCTION realtime._unquote(s text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN s ~ '^"([^"\\]|\\.)*"$'
                THEN regexp_replace(substr(s, 2, length(s) - 2), '\\(.)', '\1', 'g')
                ELSE s
           END;
$$;

-- The values of an in list, "(a,b)", read as the array literal {a,b}.
CREATE FUNCTION realtime._in_list(raw_value text, cond text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    list text[];
BEGIN
    IF length(raw_value) < 2 OR left(raw_value, 1) <> '(' OR right(raw_value, 1) <> ')' THEN
        RAISE EXCEPTION 'malformed filter "%": the in operator takes a list in parentheses', cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'for example status=in.(open,closed)';
    END IF;
    BEGIN
        list := ('{' || substr(raw_value, 2, length(raw_value) - 2) || '}')::text[];
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'malformed filter "%": the in list is not a valid list: %', cond, SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'quote values holding commas or parentheses: in.("a,b",c)';
    END;
    list := ARRAY(SELECT unnest(list));
    IF cardinality(list) > 100 THEN
        RAISE EXCEPTION 'filter "%" has % values in its in list; at most 100 are allowed',
                        cond, cardinality(list)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    RETURN list;
END;
$$;

-- Reads one condition into {"column", "op", "values"[, "not": true]}. Only the syntax is
-- checked here; filter is the whole text, for messages.
CREATE FUNCTION realtime._parse_condition(cond text, filter text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    eq_pos    int := strpos(cond, '=');
    rest      text := substr(cond, eq_pos + 1);
    negate    boolean := left(rest, 4) = 'not.';
    dot_pos   int;
    op        text;
    raw_value text;
    vals      text[];
BEGIN
    IF cond = '' THEN
        RAISE EXCEPTION 'empty condition in filter "%"', filter
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'conditions are separated by single commas';
    END IF;
    IF negate THEN
        rest := substr(rest, 5);
    END IF;
    dot_pos := strpos(rest, '.');
    IF eq_pos <= 1 OR dot_pos = 0 THEN
        RAISE EXCEPTION 'malformed filter "%": expected column=operator.value', cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'for example user_id=eq.42, status=in.(open,closed) or name=not.ilike.*bot*; join conditions with commas';
    END IF;
    op := left(rest, dot_pos - 1);
    raw_value := substr(rest, dot_pos + 1);
    IF op NOT IN ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'like', 'ilike', 'match',
                  'imatch', 'is', 'isdistinct') THEN
        RAISE EXCEPTION 'unknown filter operator "%" in "%"', op, cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'operators are eq, neq, lt, lte, gt, gte, in, like, ilike, match, imatch, is and isdistinct, each optionally after not.';
    END IF;

    IF op = 'in' THEN
        vals := realtime._in_list(raw_value, cond);
    ELSE
        vals := ARRAY[realtime._unquote(raw_value)];
    END IF;
    IF op = 'is' AND vals[1] NOT IN ('null', 'true', 'false', 'unknown') THEN
        RAISE EXCEPTION 'invalid value "%" for the is operator in "%"', vals[1], cond
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'is takes null, true, false or unknown';
    END IF;
    RETURN jsonb_build_object('column', realtime._unquote(btrim(left(cond, eq_pos - 1))),
                              'op', op, 'values', to_jsonb(vals))
        || CASE WHEN negate THEN '{"not": true}'::jsonb ELSE '{}' END;
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

-- The statement proving that operator op (as parse_filter groups them: is.<keyword>
-- for is) exists for type col_type, or NULL when any type has it.
CREATE FUNCTION realtime._operator_probe(op text, col_type text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN op IN ('eq', 'in') THEN format('SELECT NULL::%1$s = NULL::%1$s', col_type)
        WHEN op = 'neq' THEN format('SELECT NULL::%1$s <> NULL::%1$s', col_type)
        WHEN op = 'lt' THEN format('SELECT NULL::%1$s < NULL::%1$s', col_type)
        WHEN op = 'lte' THEN format('SELECT NULL::%1$s <= NULL::%1$s', col_type)
        WHEN op = 'gt' THEN format('SELECT NULL::%1$s > NULL::%1$s', col_type)
        WHEN op = 'gte' THEN format('SELECT NULL::%1$s >= NULL::%1$s', col_type)
        WHEN op = 'isdistinct' THEN format('SELECT NULL::%1$s IS DISTINCT FROM NULL::%1$s', col_type)
        WHEN op IN ('is.true', 'is.false', 'is.unknown')
            THEN format('SELECT NULL::%s IS %s', col_type, upper(substr(op, 4)))
    END;
$$;

-- Checks the conditions on one column of entity: that it exists, that each of ops (see
-- _operator_probe) exists for its type, and that each of the typed values parses as the
-- output plugin will parse it. value_conds holds, for each value, the text of its
-- condition (for messages). Pattern conditions are checked by _pattern_operator.
CREATE FUNCTION realtime._check_column(entity regclass, col text, ops text[],
                                       value_list text[], value_conds text[])
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    col_type   text;
    input_call text;
    op         text;
    probe      text;
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
        probe := realtime._operator_probe(op, col_type);
        CONTINUE WHEN probe IS NULL;
        BEGIN
            EXECUTE probe;
        EXCEPTION WHEN undefined_function OR datatype_mismatch THEN
            IF op LIKE 'is.%' THEN
                RAISE EXCEPTION 'is % needs a boolean column; "%" is of type %', substr(op, 4), col, col_type
                    USING ERRCODE = 'datatype_mismatch';
            END IF;
            RAISE EXCEPTION 'operator % is not supported for column "%" of type %', op, col, col_type
                USING ERRCODE = 'undefined_function';
        END;
        IF op NOT LIKE 'is.%' AND NOT realtime._filter_op_supported(entity, col, op) THEN
            RAISE EXCEPTION 'operator % is not supported for column "%" of type %', op, col, col_type
                USING ERRCODE = 'undefined_function',
                      DETAIL = format('The output plugin compares values with a default %s operator class, which type %s does not provide.',
                                      CASE WHEN op IN ('lt', 'lte', 'gt', 'gte') THEN 'btree' ELSE 'btree or hash' END,
                                      col_type);
        END IF;
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

-- The operator of a pattern condition (see _pattern_operator), with the condition named
-- when its pattern is refused.
CREATE FUNCTION realtime._check_pattern(entity regclass, cond jsonb, cond_text text)
RETURNS oid
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN realtime._pattern_operator(entity, cond->>'column', cond->>'op', cond->'values'->>0);
EXCEPTION
    WHEN undefined_function OR undefined_column THEN
        RAISE;
    WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid pattern "%" for column "%" in filter "%": %',
                        cond->'values'->>0, cond->>'column', cond_text, SQLERRM
            USING ERRCODE = SQLSTATE;
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
    checks record;
BEGIN
    IF filter IS NULL OR btrim(filter, E' \t\n\r\f\v') = '' THEN
        RETURN '[]';
    END IF;
    IF octet_length(filter) > realtime._max_filter_bytes() THEN
        RAISE EXCEPTION 'filter is % bytes long; at most % bytes are allowed',
                        octet_length(filter), realtime._max_filter_bytes()
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Supabase''s filters are short: an in list takes at most 100 values';
    END IF;
    conds := realtime._split_filter(filter);
    FOR i IN 1 .. cardinality(conds) LOOP
        parsed := parsed || realtime._parse_condition(conds[i], filter);
    END LOOP;

    -- One check per column, in the order of first use, so errors follow the text. The
    -- values of is and of the patterns are not of the column's type.
    FOR checks IN
        SELECT p->>'column' AS col,
               array_agg(DISTINCT CASE WHEN p->>'op' = 'is' THEN 'is.' || (p->'values'->>0)
                                       ELSE p->>'op' END) AS ops,
               array_agg(v ORDER BY n, k) FILTER (WHERE v IS NOT NULL AND p->>'op' NOT IN
                   ('is', 'like', 'ilike', 'match', 'imatch')) AS vals,
               array_agg(c ORDER BY n, k) FILTER (WHERE v IS NOT NULL AND p->>'op' NOT IN
                   ('is', 'like', 'ilike', 'match', 'imatch')) AS val_conds
          FROM unnest(parsed, conds) WITH ORDINALITY AS t(p, c, n)
          LEFT JOIN LATERAL jsonb_array_elements_text(p->'values') WITH ORDINALITY AS e(v, k) ON true
         GROUP BY p->>'column'
         ORDER BY min(n)
    LOOP
        PERFORM realtime._check_column(entity, checks.col, checks.ops,
                                       coalesce(checks.vals, '{}'), coalesce(checks.val_conds, '{}'));
    END LOOP;

    FOR i IN 1 .. cardinality(parsed) LOOP
        IF parsed[i]->>'op' IN ('like', 'ilike', 'match', 'imatch') THEN
            parsed[i] := parsed[i] || jsonb_build_object(
                'operator', realtime._check_pattern(entity, parsed[i], conds[i])::bigint);
        END IF;
    END LOOP;
    RETURN to_jsonb(parsed);
END;
$$;
