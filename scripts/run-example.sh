#!/usr/bin/env bash
# README's main command: install everything, create the embedded `verdi presto` profile (SQLite, no
# services) if there is none, and run examples/launch_cu.py with `verdi run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
VENV=${AIIDA_DPGEN_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
PROFILE=${AIIDA_DPGEN_PROFILE:-aiida-dpgen}

if ! verdi profile show "$PROFILE" >/dev/null 2>&1; then
    # --use-zeromq: presto would pick a RabbitMQ it finds running (the production set-up starts one); the
    # embedded default stays free of services on purpose.
    verdi presto --use-zeromq --profile-name "$PROFILE"
    # `verdi daemon` commands wait 2 s for the daemon's answer by default, too short on a busy 2-core machine.
    verdi -p "$PROFILE" config set daemon.timeout 30
    # presto polls the local scheduler every second; each poll stores the jobs' state in SQLite, which
    # costs the MD measurable CPU on a small machine (benchmarks/orchestration.py): every 5 s instead.
    verdi -p "$PROFILE" run <(echo "from aiida.orm import load_computer; load_computer('localhost').set_minimum_job_poll_interval(5.0)")
    # Every submission and poll runs through `bash -l -c` by default: the login profile (pyenv, modules, ...)
    # then runs each time, 0.15-0.4 s of blocked engine here. The jobs inherit the engine's environment instead.
    verdi -p "$PROFILE" computer configure core.local localhost --non-interactive --no-use-login-shell --safe-interval 0
fi
verdi -p "$PROFILE" run examples/launch_cu.py "$@"
