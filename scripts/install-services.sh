#!/usr/bin/env bash
# Install the production services from Debian 12: PostgreSQL 15, RabbitMQ 3.10, Slurm 22.05 (slurmctld +
# slurmd + munge) and OpenSSH's server. Idempotent; needs root. Nothing is started here: see
# scripts/start-services.sh (no systemd needed, so it also works in containers and CI).
set -euo pipefail
packages=(postgresql rabbitmq-server slurm-wlm munge openssh-server)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-services: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-services: done"
