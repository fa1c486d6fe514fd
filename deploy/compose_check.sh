#!/usr/bin/env bash
# Builds docker-compose.cpu.yml, runs it and checks a real answer end to end (deploy/compose_check.py says what);
# several minutes, so not part of CI. PYTHON picks the interpreter (default .venv's: scripts/setup.sh --dev).
#   deploy/compose_check.sh [--no-build] [--keep] [--skip-embedded] [--port N] [--post ID]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" deploy/compose_check.py "$@"
