#!/usr/bin/env bash
# The main job, from nothing: set up (Debian packages, a Python 3.12 venv,
# the build), record samples/syspath_demo.py, and ask who changed sys.path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh 3.12
source .venv-3.12/bin/activate
spyrec run samples/syspath_demo.py
spyrec query last-change sys.path
