#!/usr/bin/env bash
# What the tests and benchmarks use beside the Python packages: PostgreSQL, Mosquitto and NATS
# (with JetStream) on their standard ports, the browser the console is driven with, Node.js (the
# console's assets, Node-RED for the comparison), poppler and a CJK font for the report tests,
# python3-venv (a Debian Python makes no venv without it) and procps (pgrep, used by the tests).
# Installs from Debian only what is missing, starts only the services that are down, and stops
# with the reason when one does not come up. Written for a fresh Debian 12, run as root.
set -euo pipefail

need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v mosquitto >/dev/null || need_apt+=(mosquitto)
command -v mosquitto_sub >/dev/null || need_apt+=(mosquitto-clients)  # the C reference in bench/mqtt_ingest.py
[ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
# reports: PDFs are rendered to PNG in the tests, and Chinese needs a CJK font to embed
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
# the web console: its assets come from npm (web/package-lock.json), its tests drive Debian's Chromium
command -v npm >/dev/null || need_apt+=(nodejs npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v pgrep >/dev/null || need_apt+=(procps)
python3 -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL: the tests and benchmarks connect as postgres over loopback without a password
# (HAZWATCH_TEST_PG overrides). A fresh Debian asks for scram-sha-256 there, so a trust rule for
# that role on loopback goes first in pg_hba.conf: a development machine's setting, never a plant's.
cluster="$(ls /etc/postgresql | sort -V | tail -1)"
hba="/etc/postgresql/$cluster/main/pg_hba.conf"
rule="host all postgres 127.0.0.1/32 trust # hazwatch tests (scripts/services.sh)"
if ! grep -qF "$rule" "$hba"; then
  { echo "$rule"; echo "host all postgres ::1/128 trust # hazwatch tests (scripts/services.sh)"; cat "$hba"; } \
    > "$hba.new" && mv "$hba.new" "$hba" && chown postgres:postgres "$hba"
  port_open 5432 && pg_ctlcluster --skip-systemctl-redirect "$cluster" main reload
fi
port_open 5432 || pg_ctlcluster --skip-systemctl-redirect "$cluster" main start

# Mosquitto: its run directory normally comes from systemd's tmpfiles
install -d -o mosquitto -g mosquitto /run/mosquitto 2>/dev/null || install -d /run/mosquitto
port_open 1883 || mosquitto -d -c /etc/mosquitto/mosquitto.conf

if ! port_open 4222; then
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
fi

for svc in "PostgreSQL 5432" "Mosquitto 1883" "NATS 4222"; do
  set -- $svc
  for _ in $(seq 1 30); do port_open "$2" && break; sleep 1; done
  port_open "$2" || { echo "services.sh: $1 did not come up on 127.0.0.1:$2 within 30 s" >&2; exit 1; }
done
for _ in $(seq 1 10); do
  psql -qAt "${HAZWATCH_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}" -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 1
done
psql -qAt "${HAZWATCH_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}" -c "SELECT 1" >/dev/null || {
  echo "services.sh: PostgreSQL is up but refuses the tests' connection (see $hba)" >&2; exit 1; }
echo "services.sh: PostgreSQL, Mosquitto and NATS (JetStream) are up"
