#!/usr/bin/env bash
# Make sure what the tests need is on this machine: Debian's Chromium (Playwright cannot
# download its own browser here), a running MariaDB with the test database reachable, and the
# message brokers the event publishing tests use: RabbitMQ (127.0.0.1:5672, guest/guest) and
# NATS with JetStream (127.0.0.1:4222).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ] || ! command -v mariadb >/dev/null 2>&1 \
  || [ ! -x /usr/sbin/rabbitmq-server ] || [ ! -x /usr/sbin/nats-server ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium mariadb-server rabbitmq-server nats-server >/dev/null
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() {
  for _ in $(seq 1 60); do listening "$1" && return 0; sleep 1; done
  echo "$2 did not start listening on 127.0.0.1:$1" >&2
  return 1
}

if ! listening 5672; then
  echo "starting RabbitMQ"
  as_root rabbitmq-server -detached
  wait_for_port 5672 RabbitMQ
fi

if ! listening 4222; then
  echo "starting NATS (JetStream)"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for_port 4222 NATS
fi

if ! mariadb-admin -uroot --host=127.0.0.1 ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do
    mariadb-admin -uroot --host=127.0.0.1 ping >/dev/null 2>&1 && break
    sleep 1
  done
fi
mariadb-admin -uroot --host=127.0.0.1 ping >/dev/null
echo "services ready: chromium $(/usr/bin/chromium --version 2>/dev/null | awk "{print \$2}"), MariaDB $(mariadb -uroot --host=127.0.0.1 -N -e 'select version()'), RabbitMQ :5672, NATS :4222"
