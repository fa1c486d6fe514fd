#!/usr/bin/env bash
# Sets up the dev environment, makes sure Redis and Chromium are there, then runs the linters, the type checker,
# the documentation build and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/ensure_redis.sh
bash scripts/ensure_browser.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m mypy
# The user's guide: a broken link, a page left out of the navigation or a settings field without a description fails.
# (Not --quiet: it hides the warnings that --strict counts, and the build passes. NO_MKDOCS_2_WARNING: Material's
# notice about its successor, printed on every build, is about the tool, not these docs.)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m pytest "$@"
