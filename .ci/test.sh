#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs it.
# This is README command 2; .ci/run (CI) calls exactly this. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a PostgreSQL server for the store tests (they start a throwaway
# cluster with initdb/pg_ctl), headless Chromium for the report tests and the Fashion-MNIST
# data for the image trainables.
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else sudo="none"; fi
if [ "$sudo" != none ] && command -v apt-get >/dev/null; then
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium dataset-fashion-mnist >/dev/null
else
    echo "warning: cannot apt-get install postgresql chromium dataset-fashion-mnist: tests that need them are skipped" >&2
fi

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[all,dev]"
python -m pytest "$@"
