#!/usr/bin/env bash
# Sets up the dev environment, makes sure Redis and Chromium are there, then runs the linters, the type checker
# and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/ensure_redis.sh
bash scripts/ensure_browser.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m mypy
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m pytest "$@"
