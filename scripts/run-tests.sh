#!/usr/bin/env bash
# README's test command and CI's entry point: install everything, then run lint, the whole test
# suite (unit + engines + services) and the documentation build with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The services suite needs PostgreSQL, RabbitMQ, a one-node Slurm and sshd; each test creates its own
# profile on them (tests/services/conftest.py).
bash scripts/install-services.sh
bash scripts/start-services.sh
VENV=${AIIDA_DPGEN_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

echo "== pre-commit (ruff lint + format, file hygiene)"
pre-commit run --all-files --show-diff-on-failure

echo "== pytest: unit, engines and services suites"
# pytest exits 5 when it collects no tests; with `set -e` that fails the run, as it should.
pytest -p no:cacheprovider --durations=25 "$@"

echo "== docs: sphinx-build -W"
sphinx-build -W --keep-going -q -b html docs docs/_build/html
echo "run-tests: all passed"
