#!/usr/bin/env bash
# Make sure what the tests need is on this machine: Debian's Chromium (Playwright cannot
# download its own browser here) and a running MariaDB with the test database reachable.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ] || ! command -v mariadb >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium mariadb-server >/dev/null
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
echo "services ready: chromium $(/usr/bin/chromium --version 2>/dev/null | awk "{print \$2}"), MariaDB $(mariadb -uroot --host=127.0.0.1 -N -e 'select version()')"
