-- The privilege checks a subscription must pass, at subscribe time, for the role of its
-- claims. They refuse what can never be delivered; the output plugin then decides every
-- change under the catalog of its commit (row level security, column privileges, and
-- any privilege revoked later: docs/architecture.md, "Row level security").

-- The role a subscription is checked and decided for, which must exist.
CREATE FUNCTION realtime._subscriber_role(role_name name)
RETURNS oid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    role_oid oid;
BEGIN
    SELECT r.oid INTO role_oid FROM pg_roles r WHERE r.rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'the role comes from the "role" claim of the JWT';
    END IF;
    RETURN role_oid;
END;
$$;

-- A SELECT by the role names the schema: it needs USAGE on it.
CREATE FUNCTION realtime._check_schema_usage(nsp oid, role_name name)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT has_schema_privilege(realtime._subscriber_role(role_name), nsp, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied: role "%" has no USAGE on schema %', role_name, nsp::regnamespace
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$;

-- Refuses a role that can read no column of the table, or that cannot read a column a
-- filter or the select list names (select_columns must also exist). A role that reads
-- only some columns is accepted: it receives only those.
CREATE FUNCTION realtime._check_access(entity regclass, role_name name, filters jsonb,
                                       select_columns text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    role_oid oid := realtime._subscriber_role(role_name);
    col      text;
BEGIN
    PERFORM realtime._check_schema_usage(
        (SELECT c.relnamespace FROM pg_class c WHERE c.oid = entity), role_name);
    IF NOT has_table_privilege(role_oid, entity, 'SELECT')
       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = entity AND a.attnum > 0 AND NOT a.attisdropped
                          AND has_column_privilege(role_oid, entity, a.attnum, 'SELECT')) THEN
        RAISE EXCEPTION 'permission denied: role "%" cannot SELECT from table %', role_name, entity
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOREACH col IN ARRAY coalesce(select_columns, '{}') LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = entity AND a.attname = col AND a.attnum > 0
                          AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" does not exist in table %', col, entity
                USING ERRCODE = 'undefined_column',
                      HINT = 'the select option names the columns to send';
        END IF;
    END LOOP;
    FOR col IN SELECT f->>'column' FROM jsonb_array_elements(filters) f
               UNION ALL SELECT unnest(select_columns) LOOP
        IF NOT has_column_privilege(role_oid, entity, col, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied: role "%" cannot SELECT column "%" of table %',
                            role_name, col, entity
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END;
$$;
