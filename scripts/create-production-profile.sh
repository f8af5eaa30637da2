#!/usr/bin/env bash
# Create an AiiDA profile on PostgreSQL + RabbitMQ with the computer localhost-slurm (core.ssh + core.slurm)
# and the engines' codes on it. Expects the services running (scripts/start-services.sh) and the venv
# (scripts/install.sh); scripts/setup-production.sh does all of it. Idempotent. Honours AIIDA_PATH (the
# services tests create their profiles in a temporary one).
#
#   bash scripts/create-production-profile.sh PROFILE
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:?usage: create-production-profile.sh PROFILE}
VENV=${AIIDA_DPGEN_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

# PostgreSQL role and database, one per profile. `verdi presto --use-postgres` cannot do this here: it
# needs sudo and the en_US.UTF-8 locale; C.UTF-8 is always there.
DATABASE=$(echo "aiida_${PROFILE}" | tr -c 'a-zA-Z0-9_\n' '_')
if ! verdi profile show "$PROFILE" >/dev/null 2>&1; then
    PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    su postgres -c "psql -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$DATABASE') THEN
    ALTER ROLE "$DATABASE" WITH LOGIN PASSWORD '$PASSWORD';
  ELSE
    CREATE ROLE "$DATABASE" WITH LOGIN PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
    if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = '$DATABASE'\"" | grep -q 1; then
        su postgres -c "createdb -O '$DATABASE' -E UTF8 -l C.UTF-8 -T template0 '$DATABASE'"
    fi
    verdi profile setup core.psql_dos --non-interactive --profile-name "$PROFILE" --no-set-as-default \
        --email "${AIIDA_DPGEN_EMAIL:-$(whoami)@$(hostname -s)}" --first-name "$(whoami)" --last-name user \
        --institution "$(hostname -s)" --broker core.rabbitmq \
        --database-hostname localhost --database-port 5432 --database-name "$DATABASE" \
        --database-username "$DATABASE" --database-password "$PASSWORD" \
        --repository-uri "file://${AIIDA_PATH:-$HOME}/.aiida/repository/$PROFILE"
fi
VERDI=(verdi -p "$PROFILE")
# `verdi daemon` commands wait 2 s for the daemon's answer by default, too short while jobs load the machine.
"${VERDI[@]}" config set daemon.timeout 30
# aiida-core warns about every RabbitMQ newer than 3.8.14 because of the default consumer_timeout, which
# scripts/start-services.sh switches off; check that it is off, then silence the warning for this profile.
if rabbitmqctl eval 'application:get_env(rabbit, consumer_timeout).' | grep -q '{ok,undefined}'; then
    "${VERDI[@]}" config set warnings.rabbitmq_version False
fi
"${VERDI[@]}" status

if ! "${VERDI[@]}" computer show localhost-slurm >/dev/null 2>&1; then
    "${VERDI[@]}" computer setup --non-interactive --config examples/cluster/localhost-slurm.yaml
    "${VERDI[@]}" computer configure core.ssh localhost-slurm --non-interactive \
        --config examples/cluster/localhost-slurm-ssh.yaml --key-filename "$HOME/.ssh/aiida-dpgen-localhost"
fi
"${VERDI[@]}" computer test localhost-slurm

# The engines' codes on it, from the venv and Debian (`aiida-dpgen setup-codes` is idempotent).
aiida-dpgen setup-codes localhost-slurm -p "$PROFILE"
echo "setup-production: profile $PROFILE ready; start the daemon with: verdi -p $PROFILE daemon start 2"
