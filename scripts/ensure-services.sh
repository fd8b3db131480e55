#!/usr/bin/env bash
# Start PostgreSQL and Redis when they are installed but stopped. Under CI=true a service
# that cannot be reached fails the run, so tests never silently skip.
set -u

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_PORT=6379
failed=0

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no || true
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi

pg_up || { echo "PostgreSQL is not reachable on $PG_HOST:$PG_PORT"; failed=1; }
redis_up || { echo "Redis is not reachable on 127.0.0.1:$REDIS_PORT"; failed=1; }

if [ "$failed" = 1 ] && [ "${CI:-}" = "true" ]; then
  echo "CI=true: the test services must be running; failing the run." >&2
  exit 1
fi
exit 0
