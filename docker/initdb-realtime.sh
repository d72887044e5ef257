#!/bin/sh
# First start of the container: allow the plugin (Postgres 15.20+) and create the extension.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'output_plugin_libraries') THEN
    EXECUTE 'ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, pg_realtime';
    PERFORM pg_reload_conf();
  END IF;
END $$;
CREATE EXTENSION IF NOT EXISTS pg_realtime;
SQL
