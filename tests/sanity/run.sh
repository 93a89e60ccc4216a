#!/usr/bin/env bash
# ansible-test sanity for medzen.ehrbase. ansible-test must run from a directory that is
# .../ansible_collections/medzen/ehrbase, with the collections we depend on beside it: build
# that tree from the files git knows (tracked and new, never ignored runtime junk), link
# amazon.* and community.* from the `ansible` package, and run the sanity tests there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
WORK=$(mktemp -d /tmp/medzen-sanity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/ansible_collections/medzen/ehrbase
mkdir -p "$DEST"

cd "$ROOT"
git ls-files --cached --others --exclude-standard -z | grep -zv '^\.collections/' \
  | xargs -0 cp --parents -P -t "$DEST"
SITE=$("$BIN/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections
for ns in amazon community; do ln -s "$SITE/$ns" "$WORK/ansible_collections/$ns"; done

# ansible-test puts pip into its per-test virtual environments with a bootstrap script it
# downloads from ci-files.testing.ansible.com; use our offline equivalent when that is missing.
PIP_VERSION=24.2  # what ansible-core 2.19's ansible-test bootstraps (requirements.txt pins ansible-core)
CACHE=~/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
[ -f "$CACHE" ] || { mkdir -p "$(dirname "$CACHE")"; cp "$ROOT/tests/sanity/get_pip_offline.py" "$CACHE"; }

cd "$DEST"
"$BIN/ansible-test" sanity --local --python "$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no "$@"
