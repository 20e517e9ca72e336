#!/usr/bin/env bash
# The Debian packages the tests need beside the venv, installed quietly when missing (never started here):
# PostgreSQL's server binaries (tests/test_postgres_storage.py starts a throwaway cluster from them) and cloud-init
# (its schema validator checks the rendered #cloud-config documents in tests/test_cluster_cloud_init.py).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
echo "installing ${missing[*]} (apt-get)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
command -v cloud-init >/dev/null
