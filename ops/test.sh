#!/usr/bin/env bash
# The whole suite: lint, types, then pytest (unit, integration, end-to-end). The integration
# fixtures start a private Kafka + Redis on free ports (tests/conftest.py) and stop them after.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}

echo "== ruff"; "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check .
echo "== mypy"; "$VENV/bin/mypy"
echo "== pytest"; "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
