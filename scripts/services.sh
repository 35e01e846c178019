#!/usr/bin/env bash
# Make sure Redis, PostgreSQL and RabbitMQ answer on their default local ports; start
# any that does not, with the commands this kind of machine uses. The Pub/Sub emulator is
# started by whatever needs it (the tests, scripts/demo.py).
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
