-- The daily partitions of realtime.messages: made ahead of time and dropped after the
-- retention period by realtime.maintain_messages, which the relay calls periodically.

-- The range of a partition of realtime.messages, or NULLs for one that is not a plain
-- FROM ... TO range of timestamps (a DEFAULT partition, a MINVALUE or MAXVALUE bound
-- someone added by hand: never dropped).
CREATE FUNCTION realtime._partition_range(part regclass, OUT lower_bound timestamp, OUT upper_bound timestamp)
LANGUAGE sql STABLE AS $fn$
    SELECT m[1]::timestamp, m[2]::timestamp
      FROM pg_class c,
           regexp_match(pg_get_expr(c.relpartbound, c.oid), $re$^FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)$$re$) m
     WHERE c.oid = part;
$fn$;

-- Makes the partition of one UTC day, named as Supabase names them, unless it exists.
-- It is made as a plain table and then attached: ATTACH takes SHARE UPDATE EXCLUSIVE on
-- realtime.messages, which neither waits for nor blocks the inserts of send() and of
-- authorization checks, where CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE.
-- Attaching adds the table's indexes to the partition; the output plugin recognises a
-- partition by its root, so its broadcasts are delivered from the first insert. A day
-- that another partition already covers fails to attach (invalid_object_definition).
CREATE FUNCTION realtime._create_message_partition(for_day date)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part_name text := 'messages_' || to_char(for_day, 'YYYY_MM_DD');
    ext  name;
BEGIN
    IF to_regclass(format('realtime.%I', part_name)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE realtime.%I (LIKE realtime.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part_name);
    EXECUTE format('ALTER TABLE realtime.messages ATTACH PARTITION realtime.%I FOR VALUES FROM (%L) TO (%L)',
                   part_name, for_day::timestamp, (for_day + 1)::timestamp);
    -- Made while CREATE EXTENSION runs, the partition would belong to the extension and
    -- could never be dropped by retention: it belongs to the table alone.
    SELECT e.extname INTO ext
      FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.classid = 'pg_class'::regclass AND d.objid = format('realtime.%I', part_name)::regclass
       AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e';
    IF FOUND THEN
        EXECUTE format('ALTER EXTENSION %I DROP TABLE realtime.%I', ext, part_name);
    END IF;
    RETURN part_name;
END;
$$;

-- Partition maintenance for realtime.messages, to be called periodically (the relay calls
-- it at start and then every hour; pg_cron can too). It makes the partitions of the UTC
-- days from yesterday to days_ahead days from today, and drops every partition whose rows
-- are all older than retention: a message is kept at least retention, and at most one
-- day longer. Supabase's defaults: 3 days (72 hours) of retention, partitions up to 3 days
-- ahead. Returns one row per partition created or dropped, and 'busy' for a partition it
-- could not lock within lock_wait (while a drop waits for its lock, inserts queue behind
-- it, so the wait is short; the next call drops it).
--
-- Run it as the owner of realtime.messages (the role that created the extension) or a
-- superuser: attaching and dropping partitions need ownership.
CREATE FUNCTION realtime.maintain_messages(
    retention  interval DEFAULT '3 days',
    days_ahead integer  DEFAULT 3,
    lock_wait  interval DEFAULT '200 milliseconds')
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $$
DECLARE
    today  date := timezone('UTC', now())::date;
    cutoff timestamp := timezone('UTC', now()) - retention;
    old_lock_timeout text := current_setting('lock_timeout');
    part   regclass;
    made   text;
BEGIN
    IF retention IS NULL OR retention <= interval '0' THEN
        RAISE EXCEPTION 'retention must be a positive interval, not %', retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF days_ahead IS NULL OR days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366, not %', days_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('lock_timeout', greatest(extract(epoch FROM lock_wait) * 1000, 1)::bigint::text, true);

    FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i
                 WHERE i.inhparent = 'realtime.messages'::regclass
                   AND (realtime._partition_range(i.inhrelid)).upper_bound <= cutoff
                 ORDER BY i.inhrelid::regclass::text LOOP
        action := 'dropped';
        partition_name := part::text;
        BEGIN
            EXECUTE format('DROP TABLE %s', part);
        EXCEPTION
            WHEN lock_not_available THEN
                action := 'busy';
            WHEN undefined_table THEN
                CONTINUE;  -- a concurrent call dropped it
        END;
        RETURN NEXT;
    END LOOP;

    FOR day IN 0 .. days_ahead + 1 LOOP
        CONTINUE WHEN (today - 1 + day + 1)::timestamp <= cutoff;
        BEGIN
            made := realtime._create_message_partition(today - 1 + day);
        EXCEPTION
            WHEN lock_not_available THEN
                action := 'busy';
                partition_name := 'realtime.messages_' || to_char(today - 1 + day, 'YYYY_MM_DD');
                RETURN NEXT;
                CONTINUE;
            -- Covered by a partition made by hand, or made by a concurrent call (which
            -- shows as a duplicate catalog key when both create it at once).
            WHEN invalid_object_definition OR duplicate_table OR unique_violation THEN
                CONTINUE;
        END;
        IF made IS NOT NULL THEN
            action := 'created';
            partition_name := 'realtime.' || made;
            RETURN NEXT;
        END IF;
    END LOOP;
    PERFORM set_config('lock_timeout', old_lock_timeout, true);
END;
$$;

COMMENT ON FUNCTION realtime.maintain_messages(interval, integer, interval) IS
    'Creates the daily partitions of realtime.messages ahead of time and drops those older than retention; call it periodically';

-- A fresh database can send and authorize at once, before any relay ran.
SELECT count(*) FROM realtime.maintain_messages();
