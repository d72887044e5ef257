-- Supabase's filter syntax: splitting, unquoting and realtime.parse_filter, which
-- validates every value and operator against the column's type.

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
