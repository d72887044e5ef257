-- The publication supabase_realtime, as Supabase projects have it.
--
-- Supabase apps enable Realtime for a table with `alter publication supabase_realtime add
-- table ...` in their migrations, so the publication must exist. Whole-schema bindings
-- (realtime.subscribe_schema) cover the tables it lists, or every table of the schema
-- when it is FOR ALL TABLES; a table subscribed by name is delivered whether it is listed
-- or not (each user's access is checked anyway). The plugin reads the publication with
-- the historic snapshot, so `add table` applies to changes committed after it.
-- It is created empty, like Supabase's, unless the database already has one (it is not
-- a member of the extension: DROP EXTENSION leaves it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END;
$$;
