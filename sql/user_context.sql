-- Acting as a client's user inside Postgres: the role and request settings Supabase sets
-- for PostgREST and Realtime, so that policies written for Supabase (auth.uid(),
-- auth.jwt(), realtime.topic()) work unchanged.

-- The role the JWT's "role" claim names, checked before anything is run as it. "none"
-- would reset the role to the session user (the relay's own, usually a superuser), and
-- no role at all would keep it: both are refused, whatever signed the token.
CREATE FUNCTION realtime._claims_role(claims jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    role_name text := claims->>'role';
BEGIN
    IF jsonb_typeof(claims) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'claims must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF role_name IS NULL OR role_name = '' OR role_name = 'none' THEN
        RAISE EXCEPTION 'the claims carry no usable "role" (got %)', coalesce(claims->'role', 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'the role comes from the "role" claim of the JWT and must name a Postgres role';
    END IF;
    RETURN role_name;
END;
$$;

-- Switches the current transaction to the user of claims, as Supabase does before it
-- evaluates a user's policies: role, realtime.topic, request.jwt.claims,
-- request.jwt.claim.sub, request.jwt.claim.role and request.headers, all local to the
-- transaction (or to the subtransaction the caller runs it in). The caller must be
-- allowed to SET ROLE to that role. An unknown role raises invalid_parameter_value
-- ('role "x" does not exist'), as set_config does.
CREATE FUNCTION realtime.set_user_context(claims jsonb, topic text DEFAULT NULL, headers jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    role_name text := realtime._claims_role(claims);
BEGIN
    PERFORM set_config('role', role_name, true),
            set_config('realtime.topic', coalesce(topic, ''), true),
            set_config('request.jwt.claims', claims::text, true),
            set_config('request.jwt.claim.sub', coalesce(claims->>'sub', ''), true),
            set_config('request.jwt.claim.role', role_name, true),
            set_config('request.headers', coalesce(headers, '{}')::text, true);
END;
$$;

COMMENT ON FUNCTION realtime.set_user_context(jsonb, text, jsonb) IS
    'Acts as the JWT user of claims for the rest of the (sub)transaction: SET LOCAL ROLE and the request.jwt.* / realtime.topic settings';
