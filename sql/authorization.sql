-- Realtime Authorization (private channels), decided as Supabase decides it: by the
-- user's RLS policies on realtime.messages for the topic, probed with rows that are
-- always rolled back. Also the replay of a private topic's stored broadcasts.

-- Read check: probe rows (one per extension, nothing but topic, extension, timestamps and
-- id, so private is false as in Supabase) are inserted as the caller, which bypasses RLS;
-- then, as the user, the probes it can SELECT are the extensions it may read.
CREATE FUNCTION realtime._probe_read(topic text, claims jsonb, headers jsonb, extensions text[])
RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    probe_at timestamp := timezone('UTC', clock_timestamp());
    ids      uuid[] := ARRAY(SELECT gen_random_uuid() FROM unnest(extensions));
    readable text[];
BEGIN
    INSERT INTO realtime.messages (id, topic, extension, inserted_at, updated_at)
    SELECT i, topic, e, probe_at, probe_at FROM unnest(ids, extensions) AS p(i, e);
    PERFORM realtime.set_user_context(claims, topic, headers);
    -- inserted_at lets the planner read one partition; it changes nothing for the user.
    SELECT coalesce(array_agg(p.e), '{}') INTO readable
      FROM unnest(ids, extensions) AS p(i, e)
     WHERE p.i IN (SELECT m.id FROM realtime.messages m
                    WHERE m.id = ANY (ids) AND m.inserted_at = probe_at);
    RETURN readable;
END;
$$;

-- Write check: as the user, each extension's probe row is inserted in a subtransaction;
-- an insufficient_privilege error (a failed WITH CHECK, a missing grant) means no, any
-- other error ends the check with that error. Extensions not checked are no (Supabase
-- checks presence only when presence is enabled).
CREATE FUNCTION realtime._probe_write(topic text, claims jsonb, headers jsonb, extensions text[])
RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    probe_at timestamp;
    writable text[] := '{}';
    ext      text;
BEGIN
    PERFORM realtime.set_user_context(claims, topic, headers);
    FOREACH ext IN ARRAY extensions LOOP
        BEGIN
            probe_at := timezone('UTC', clock_timestamp());
            INSERT INTO realtime.messages (topic, extension, inserted_at, updated_at)
            VALUES (topic, ext, probe_at, probe_at);
            writable := writable || ext;
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
    RETURN writable;
END;
$$;

-- The authorization of one user (claims, with its "role") for one topic (the channel's
-- name without "realtime:"), in one statement: the relay runs
--   SELECT * FROM realtime.authorize($topic, $claims, check_read, check_write, presence)
-- on its database pool, in autocommit. Each check runs in a subtransaction that is always
-- rolled back, so no probe row survives and no role or setting leaks out; the statement
-- holds no lock past its end and touches no shared row, so any number of joins run side
-- by side. (The transaction commits nothing, so it does not wait for a WAL flush.)
--
-- Results: *_read / *_write are true or false for each check run, NULL for checks not
-- run (presence_read when presence is false, everything of a check not asked for or
-- that failed). A check that fails (a policy that raises, an unknown role, no partition
-- for today: 23514) sets error_code (its SQLSTATE) and error_message and leaves its
-- results NULL; a failed read check skips the write check. Statement timeouts and
-- cancels are not caught: the statement fails with 57014, as Supabase's query_canceled.
--
-- The caller (the relay's database role) must bypass RLS on realtime.messages (superuser,
-- owner or BYPASSRLS) and be allowed to SET ROLE to every role tokens carry.
CREATE FUNCTION realtime.authorize(
    topic       text,
    claims      jsonb,
    check_read  boolean DEFAULT true,
    check_write boolean DEFAULT false,
    presence    boolean DEFAULT true,
    headers     jsonb   DEFAULT '{}',
    OUT broadcast_read  boolean,
    OUT presence_read   boolean,
    OUT broadcast_write boolean,
    OUT presence_write  boolean,
    OUT error_code      text,
    OUT error_message   text)
LANGUAGE plpgsql AS $$
DECLARE
    extensions text[] := CASE WHEN presence THEN '{broadcast,presence}'::text[] ELSE '{broadcast}' END;
    allowed    text[];
    finished   boolean;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    IF check_read THEN
        finished := false;
        BEGIN
            allowed := realtime._probe_read(topic, claims, headers, extensions);
            broadcast_read := 'broadcast' = ANY (allowed);
            presence_read := CASE WHEN presence THEN 'presence' = ANY (allowed) END;
            finished := true;
            RAISE EXCEPTION USING ERRCODE = 'RT000';  -- undo the probes and the user's settings
        EXCEPTION WHEN OTHERS THEN
            IF NOT finished THEN
                error_code := SQLSTATE;
                error_message := SQLERRM;
                RETURN;
            END IF;
        END;
    END IF;
    IF check_write THEN
        finished := false;
        BEGIN
            allowed := realtime._probe_write(topic, claims, headers, extensions);
            broadcast_write := 'broadcast' = ANY (allowed);
            presence_write := 'presence' = ANY (allowed);
            finished := true;
            RAISE EXCEPTION USING ERRCODE = 'RT000';
        EXCEPTION WHEN OTHERS THEN
            IF NOT finished THEN
                error_code := SQLSTATE;
                error_message := SQLERRM;
            END IF;
        END;
    END IF;
END;
$$;

COMMENT ON FUNCTION realtime.authorize(text, jsonb, boolean, boolean, boolean, jsonb) IS
    'Realtime Authorization: may this JWT user read / write broadcast and presence on this topic, by its RLS policies on realtime.messages';

-- The stored broadcasts a private channel joined with config.broadcast.replay gets
-- before live ones, as Supabase selects them: the private broadcast messages of the
-- topic inserted since "since" (ms since the Unix epoch) and before a minute from now,
-- the newest "limit" of them (clamped to 1..25; NULL is 25), returned oldest first.
-- Rows without an event or payload, which are never delivered live, are left out too.
-- A "since" outside what Supabase accepts raises invalid_parameter_value
-- 'Replay params are not valid'.
--
-- The seam with live messages (docs/architecture.md, "Replay"): the relay holds a
-- member's live broadcasts from before this call, so every message it has not held was
-- streamed by the slot before the call began. Such a message's transaction may still be
-- running for a moment (a commit is written and flushed, and so decoded, before it leaves
-- the proc array and becomes visible), so the rows are read only once the transactions
-- running when the call began have finished, with a snapshot taken after them. Hence
-- VOLATILE, and called in READ COMMITTED (under REPEATABLE READ the wait runs out).
-- Running transactions are found by the lock each holds on its own xid from its first
-- write until after it is visible (pg_locks, readable by every role): a snapshot's xip
-- alone misses those whose xid is past its xmax, e.g. the only one running.
-- Waiting for every running transaction would make each replay wait out any long one
-- (an idle session in a transaction): after 20 ms, only those whose commit is recorded
-- (pg_xact_status 'committed') but not yet visible are waited for, at most 100 ms in
-- all. One still "in progress" by then has not passed the few instructions between its
-- WAL flush and its commit record in pg_xact, so the slot had not decoded it before the
-- call. A commit stalled longer than 100 ms between the two (synchronous replication's
-- wait) is the one case left.
--
-- It reads as the caller, who must bypass RLS (replay is allowed to a member that may
-- read broadcasts of the topic, whatever the policies say of each row).
CREATE FUNCTION realtime.replay(topic text, since bigint, "limit" integer DEFAULT 25)
RETURNS TABLE (id uuid, event text, payload jsonb, binary_payload bytea, inserted_at timestamp)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    since_at  timestamp;
    max_rows  integer := greatest(least(coalesce(replay."limit", 25), 25), 1);
    in_flight xid8[];
    ref       bigint;
    settled   timestamptz := clock_timestamp() + interval '20 milliseconds';
    give_up   timestamptz := clock_timestamp() + interval '100 milliseconds';
BEGIN
    -- Elixir's DateTime.from_unix/2 range: years -9999 to 9999. Earlier than Postgres's
    -- timestamps can say is simply "everything".
    IF since IS NULL OR since < -377705116800000 OR since > 253402300799999 THEN
        RAISE EXCEPTION 'Replay params are not valid' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    since_at := CASE WHEN since < -210000000000000 THEN '-infinity'::timestamp
                     ELSE 'epoch'::timestamp + since * interval '1 millisecond' END;
    -- Each statement of a VOLATILE function takes a new snapshot: the loop sees them finish.
    -- pg_locks has 32-bit xids: each is made a full one (xid8) by its distance, within
    -- 2^31, from the snapshot's xmax, around which every running xid lies.
    ref := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
    in_flight := ARRAY(SELECT (ref + ((l.transactionid::text::bigint - ref % 4294967296 + 2147483648)
                                      % 4294967296 + 4294967296) % 4294967296 - 2147483648)::text::xid8
                         FROM pg_locks l
                        WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                          AND l.pid <> pg_backend_pid());
    WHILE cardinality(in_flight) > 0 AND clock_timestamp() < give_up LOOP
        PERFORM pg_sleep(0.001);
        in_flight := ARRAY(SELECT x FROM unnest(in_flight) AS x
                            WHERE NOT pg_visible_in_snapshot(x, pg_current_snapshot())
                              AND (clock_timestamp() < settled OR pg_xact_status(x) = 'committed'));
    END LOOP;
    RETURN QUERY
        SELECT r.id, r.event, r.payload, r.binary_payload, r.inserted_at
          FROM (SELECT m.id, m.event, m.payload, m.binary_payload, m.inserted_at
                  FROM realtime.messages m
                 WHERE m.topic = replay.topic AND m.private IS TRUE AND m.extension = 'broadcast'
                   AND m.inserted_at >= since_at
                   AND m.inserted_at < timezone('UTC', now()) + interval '1 minute'
                   AND m.event IS NOT NULL AND (m.payload IS NOT NULL OR m.binary_payload IS NOT NULL)
                 ORDER BY m.inserted_at DESC
                 LIMIT max_rows) r
         ORDER BY r.inserted_at;
END;
$$;

COMMENT ON FUNCTION realtime.replay(text, bigint, integer) IS
    'The stored private broadcasts of a topic since a ms epoch, newest "limit" (<= 25) of them, oldest first: Supabase''s broadcast replay';
