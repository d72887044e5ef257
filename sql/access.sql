-- The privilege checks a subscription must pass for the role of its claims.

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
