#!/usr/bin/env bash
# Installs the real servers and tools the tests and benchmarks use (PostgreSQL,
# Prometheus, Alertmanager, Chromium, GoAccess, wrk, nginx) from Debian's packages, when
# they are missing. Needs root and
# apt-get; elsewhere it says what is missing and the tests that need it skip
# (under CI, with CI set, those tests fail instead).
set -euo pipefail

need=()
have_pg() { command -v pg_ctl >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
have_pg || need+=(postgresql)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v goaccess >/dev/null || need+=(goaccess)  # bench/logs.py compares against it
command -v wrk >/dev/null || need+=(wrk)  # bench/collect.py's load generator
[ -x /usr/bin/chromium ] || need+=(chromium)  # synthetic browser steps (Playwright drives it)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)  # leadwatch behind a proxy

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "not installed: ${need[*]} (on Debian: sudo apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
