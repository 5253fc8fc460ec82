#!/usr/bin/env bash
# Install and start what the review-app tests need beyond the venv: Debian chromium (+ driver)
# for the browser e2e tests and a local PostgreSQL server with a test database.
# Idempotent: re-running installs nothing new and leaves a running server alone.
# It exports nothing; tests read MAILGUARD_TEST_PG_URL (the DSN printed at the end) and
# otherwise try that same default DSN.
set -euo pipefail

PG_USER=${PG_USER:-mailguard}
PG_PASSWORD=${PG_PASSWORD:-mailguard}
PG_DB=${PG_DB:-mailguard_test}
PG_PORT=${PG_PORT:-5432}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "ci_services: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "ci_services: chromium, chromium-driver and postgresql already installed"
fi
echo "ci_services: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"

# Start the first PostgreSQL cluster (creating one if the package made none, e.g. in containers).
PG_VERSION=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q .; then
  echo "ci_services: creating PostgreSQL $PG_VERSION cluster 'main'"
  $SUDO pg_createcluster "$PG_VERSION" main --port "$PG_PORT" >/dev/null
fi
read -r ver cluster port status _ < <(pg_lsclusters -h | head -1)
if [ "$status" != "online" ]; then
  echo "ci_services: starting PostgreSQL $ver/$cluster on port $port"
  $SUDO pg_ctlcluster "$ver" "$cluster" start
else
  echo "ci_services: PostgreSQL $ver/$cluster already running on port $port"
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done

as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres bash -c "$1"; fi; }
if as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'\"" | grep -q 1; then
  echo "ci_services: role $PG_USER exists"
else
  echo "ci_services: creating role $PG_USER"
  as_postgres "psql -q -p $port -c \"CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'\""
fi
if as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='$PG_DB'\"" | grep -q 1; then
  echo "ci_services: database $PG_DB exists"
else
  echo "ci_services: creating database $PG_DB owned by $PG_USER"
  as_postgres "psql -q -p $port -c \"CREATE DATABASE $PG_DB OWNER $PG_USER\""
fi

echo "ci_services: PostgreSQL DSN postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
echo "ci_services: tests read MAILGUARD_TEST_PG_URL (default: the DSN above when a server answers there)"
