#!/usr/bin/env bash
# The production profile on this machine: PostgreSQL storage, RabbitMQ broker, and the computer
# `localhost-slurm` (core.ssh + core.slurm: this host's one-node Slurm, reached over SSH like a cluster)
# with the codes dp, lmp, pw and python-ase on it. Idempotent; needs root (for the services).
#
#   bash scripts/setup-production.sh [PROFILE]        # default profile name: dpgen-production
#
# Runs scripts/install.sh, scripts/install-services.sh and scripts/start-services.sh first. Afterwards:
#   verdi -p dpgen-production daemon start 2
#   verdi -p dpgen-production run examples/launch_cu.py --computer localhost-slurm --submit
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-dpgen-production}
VENV=${AIIDA_DPGEN_VENV:-.venv}
bash scripts/install.sh
bash scripts/install-services.sh
bash scripts/start-services.sh
exec bash scripts/create-production-profile.sh "$PROFILE"
