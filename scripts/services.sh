#!/usr/bin/env bash
# What the tests and benchmarks use beside the Python packages: PostgreSQL, Mosquitto and NATS
# (with JetStream) on their standard ports, the browser the console is driven with, Node.js (the
# console's assets, Node-RED for the comparison), poppler and a CJK font for the report tests.
# Installs from Debian only what is missing and starts only the services that are down.
set -euo pipefail

need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v mosquitto >/dev/null || need_apt+=(mosquitto)
[ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
# reports: PDFs are rendered to PNG in the tests, and Chinese needs a CJK font to embed
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
# the web console: its assets come from npm (web/package-lock.json), its tests drive Debian's Chromium
command -v npm >/dev/null || need_apt+=(nodejs npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_open 5432 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
port_open 1883 || mosquitto -d -c /etc/mosquitto/mosquitto.conf
if ! port_open 4222; then
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
fi
for port in 5432 1883 4222; do
  for _ in $(seq 1 30); do port_open "$port" && break; sleep 1; done
done
