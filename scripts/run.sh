#!/usr/bin/env bash
# Install INDW into .venv and run the workflow on the shipped corpus.
# Usage: scripts/run.sh [snakemake arguments]   (default: --cores 2)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dask]'
if [ "$#" -eq 0 ]; then
    set -- --cores 2
fi
.venv/bin/snakemake "$@"
cat results/merged.xxh128
