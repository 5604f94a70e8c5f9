#!/usr/bin/env bash
# Install INDW with its test and Dask extras into .venv, then run the tests.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dask,test]'
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/snakefmt --check Snakefile workflow
.venv/bin/python -m pytest "$@"
