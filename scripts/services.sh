#!/usr/bin/env bash
# Make sure Redis, PostgreSQL and RabbitMQ answer on their default local ports; start
# any that does not, with the commands this kind of machine uses. Start the project's own
# durable Redis on 6380 for the dedup store (the voting logger refuses a Redis that could
# forget who voted: append-only, fsync on every write, no eviction). The Pub/Sub emulator
# is started by whatever needs it (the tests, scripts/demo.py).
set -euo pipefail

wait_until() {  # wait_until SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then return 1; fi
    sleep 0.5
  done
}

redis_ok() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }
postgres_ok() { pg_isready -q -h 127.0.0.1 -p 5432; }
rabbitmq_ok() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'; }

if ! redis_ok; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_until 30 redis_ok || { echo "services: Redis did not start" >&2; exit 1; }
fi
echo "services: Redis answers"

# The dedup store: its own redis-server, data under .run/dedup-redis (kept across runs).
DEDUP_PORT=6380
dedup_ok() { redis-cli -h 127.0.0.1 -p "$DEDUP_PORT" ping 2>/dev/null | grep -q PONG; }
if ! dedup_ok; then
  echo "services: starting the dedup Redis on port $DEDUP_PORT (append-only, fsync always)"
  dir="$(pwd)/.run/dedup-redis"
  mkdir -p "$dir"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$DEDUP_PORT" --save "" \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction \
    --dir "$dir" --logfile "$dir/redis.log"
  wait_until 30 dedup_ok || { echo "services: the dedup Redis did not start" >&2; exit 1; }
fi
for setting in "appendonly yes" "appendfsync always" "maxmemory-policy noeviction"; do
  name=${setting% *} wanted=${setting#* }
  got=$(redis-cli -h 127.0.0.1 -p "$DEDUP_PORT" config get "$name" | tail -n1)
  if [[ "$got" != "$wanted" ]]; then
    echo "services: the Redis on port $DEDUP_PORT has $name $got, needs $wanted" >&2
    exit 1
  fi
done
echo "services: the dedup Redis answers (port $DEDUP_PORT, durable)"

if ! postgres_ok; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_until 60 postgres_ok || { echo "services: PostgreSQL did not start" >&2; exit 1; }
fi
echo "services: PostgreSQL answers"

if ! rabbitmq_ok; then
  echo "services: starting RabbitMQ"
  rabbitmq-server -detached
  wait_until 120 rabbitmq_ok || { echo "services: RabbitMQ did not start" >&2; exit 1; }
fi
echo "services: RabbitMQ answers"
