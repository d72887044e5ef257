#!/usr/bin/env bash
# Quick start: installs what is missing, builds, initialises a local Postgres under
# .local/ with the pg_realtime extension and a demo table, and runs realtime-relay on
# 127.0.0.1:4000 with a generated secret. Prints a ready token and a realtime-js snippet.
# Ctrl-C stops everything. Run it again to restart on the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/install-deps.sh
make --no-print-directory all install >/dev/null

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
LOCAL="$ROOT/.local"
PGDATA="$LOCAL/pg"
# As root, Postgres runs as the postgres account, which must reach its data directory.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$ROOT"; then
  PGDATA=/var/tmp/pg_realtime-quickstart/pg
  echo "$ROOT is not accessible to the postgres account: using $PGDATA"
fi
PGPORT=${REALTIME_PG_PORT:-54329}
LISTEN=${REALTIME_LISTEN:-127.0.0.1:4000}
mkdir -p "$LOCAL"

# initdb and postgres refuse to run as root: use the postgres account then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ ! -f "$PGDATA/PG_VERSION" ]; then
  echo "initialising Postgres in $PGDATA"
  mkdir -p "$PGDATA"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDATA"; fi
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDATA'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
EOF
fi

as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start >/dev/null
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres)
RELAY_PID=""
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
  fi
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  echo "stopped"
}
trap cleanup INT TERM EXIT

# Postgres 15.20 and later only decode through plugins listed in output_plugin_libraries.
if [ -n "$("${PSQL[@]}" -tAc "SELECT 1 FROM pg_settings WHERE name = 'output_plugin_libraries'")" ]; then
  current=$("${PSQL[@]}" -tAc "SHOW output_plugin_libraries")
  case ",${current// /}," in
    *,pg_realtime,*) ;;
    *) "${PSQL[@]}" -c "ALTER SYSTEM SET output_plugin_libraries = ${current:+$current, }pg_realtime" \
                    -c "SELECT pg_reload_conf()" >/dev/null ;;
  esac
fi

"${PSQL[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'realtime'" | grep -q 1 ||
  "${PSQL[@]}" -c "CREATE DATABASE realtime"
"${PSQL[@]}" -d realtime <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_realtime;
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE IF NOT EXISTS public.todos (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL,
  done boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.todos REPLICA IDENTITY FULL;
GRANT SELECT ON public.todos TO anon;
SQL

SECRET_FILE="$LOCAL/jwt_secret"
[ -s "$SECRET_FILE" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET_FILE"
SECRET=$(cat "$SECRET_FILE")
TOKEN=$(/usr/bin/python3 - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"role": "anon", "exp": int(time.time()) + 30 * 86400}).encode())
sig = hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(sig)}")
PY
)

"$ROOT/build/realtime-relay" --node-id local --listen "$LISTEN" --jwt-secret "$SECRET" \
  --db "host=127.0.0.1 port=$PGPORT user=postgres dbname=realtime" &
RELAY_PID=$!
for _ in $(seq 100); do
  curl -fs "http://$LISTEN/api/health" >/dev/null 2>&1 && break
  kill -0 "$RELAY_PID" 2>/dev/null || { echo "realtime-relay failed to start" >&2; exit 1; }
  sleep 0.1
done

cat <<EOF

realtime-relay is ready on ws://$LISTEN  (Postgres on 127.0.0.1:$PGPORT, database "realtime")

Token (role anon, valid 30 days):
  $TOKEN

realtime-js:
  import { RealtimeClient } from '@supabase/realtime-js'
  const client = new RealtimeClient('ws://$LISTEN/socket', { params: { apikey: '$TOKEN' } })
  client.channel('room1')
    .on('broadcast', { event: 'hello' }, (msg) => console.log('broadcast', msg))
    .on('postgres_changes', { event: '*', schema: 'public', table: 'todos' }, (c) => console.log('change', c))
    .subscribe((status) => console.log(status))

Make a change:
  psql -h 127.0.0.1 -p $PGPORT -U postgres realtime -c "INSERT INTO todos (title) VALUES ('buy milk')"
Broadcast over HTTP:
  curl -X POST http://$LISTEN/api/broadcast -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"messages":[{"topic":"room1","event":"hello","payload":{"text":"hi"}}]}'

Ctrl-C stops the relay and Postgres.
EOF
wait "$RELAY_PID"
