#!/usr/bin/env bash
# System packages the project needs: PostgreSQL 15 server + contrib (uuid-ossp) for local
# mode, shellcheck for ansible-test sanity. Installs from Debian only what is missing, so
# re-runs are instant.
set -euo pipefail
missing=()
if ! { [ -x /usr/lib/postgresql/15/bin/postgres ] && [ -f /usr/share/postgresql/15/extension/uuid-ossp.control ]; }; then
  missing+=(postgresql-15 postgresql-contrib-15)
fi
command -v shellcheck >/dev/null || missing+=(shellcheck)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages. Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing from Debian: ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
