#!/usr/bin/env bash
# System packages local mode needs: PostgreSQL 15 server + contrib (uuid-ossp).
# Installs from Debian only when missing, so re-runs are instant.
set -euo pipefail
if [ -x /usr/lib/postgresql/15/bin/postgres ] && [ -f /usr/share/postgresql/15/extension/uuid-ossp.control ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL 15 is missing. Install it with: sudo apt-get install -y postgresql-15 postgresql-contrib-15" >&2
  exit 1
fi
echo "Installing PostgreSQL 15 from Debian (local mode's RDS stand-in)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql-15 postgresql-contrib-15 >/dev/null
