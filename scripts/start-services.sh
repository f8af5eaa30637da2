#!/usr/bin/env bash
# Start the production services on this machine without systemd: PostgreSQL, RabbitMQ (with
# consumer_timeout switched off, see docs/cluster.md), a one-node Slurm cluster of this host (munge,
# slurmctld, slurmd) and sshd on localhost with a key for root. Idempotent: a service that runs is left
# alone. Run scripts/install-services.sh first. Needs root.
#
# What it writes: /etc/slurm/slurm.conf (only when absent or written by this script), the RabbitMQ
# config /etc/rabbitmq/advanced.config, the key ~/.ssh/aiida-dpgen-localhost (+ authorized_keys and
# known_hosts entries for localhost).
set -euo pipefail
MARKER="# written by aiida-dpgen scripts/start-services.sh"

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 description=$2
    shift 2
    for _ in $(seq "$seconds"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "start-services: $description did not come up in ${seconds} s" >&2
    return 1
}

# --- PostgreSQL 15 (Debian's cluster "15 main")
if ! pg_lsclusters -h 2>/dev/null | grep -q "online"; then
    pg_lsclusters -h | grep -q "^15 *main" || pg_createcluster 15 main >/dev/null
    pg_ctlcluster 15 main start
fi
wait_for 30 PostgreSQL su postgres -c "psql -tAc 'SELECT 1'"
echo "start-services: PostgreSQL $(su postgres -c "psql -tAc 'SHOW server_version'") running"

# --- RabbitMQ: aiida-core warns about RabbitMQ >= 3.8.15 because its default consumer_timeout (30 min)
# closes the channel of a workflow that runs longer; switch the timeout off.
mkdir -p /etc/rabbitmq
ADVANCED='[{rabbit, [{consumer_timeout, undefined}]}].'
if [ "$(cat /etc/rabbitmq/advanced.config 2>/dev/null)" != "$ADVANCED" ]; then
    echo "$ADVANCED" > /etc/rabbitmq/advanced.config
    rabbitmqctl stop >/dev/null 2>&1 || true
fi
if ! rabbitmqctl status >/dev/null 2>&1; then
    rabbitmq-server -detached
fi
wait_for 90 RabbitMQ rabbitmqctl await_startup
echo "start-services: RabbitMQ $(rabbitmqctl version 2>/dev/null) running"

# --- Slurm: a one-node cluster of this host
HOST=$(hostname -s)
CPUS=$(nproc)
MEMORY_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
if [ ! -f /etc/slurm/slurm.conf ] || head -1 /etc/slurm/slurm.conf | grep -qF "$MARKER"; then
    cat > /etc/slurm/slurm.conf.new <<CONF
$MARKER
ClusterName=localcluster
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=60
NodeName=$HOST CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
    if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
        mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
        pkill -x slurmctld 2>/dev/null || true
        pkill -x slurmd 2>/dev/null || true
        sleep 1
    else
        rm /etc/slurm/slurm.conf.new
    fi
fi
[ -f /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
wait_for 20 munge munge -n
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
wait_for 60 "Slurm node $HOST" sh -c "sinfo -h -N -o '%T' | grep -qE '^(idle|mixed|allocated)'"
echo "start-services: Slurm $(sinfo --version | awk '{print $2}') running: node $HOST, $CPUS CPUs, partition debug"

# --- sshd with a key for root on localhost
mkdir -p /run/sshd ~/.ssh
chmod 700 ~/.ssh
ssh-keygen -A >/dev/null
pgrep -x sshd >/dev/null || /usr/sbin/sshd
KEY=~/.ssh/aiida-dpgen-localhost
[ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "aiida-dpgen localhost" -f "$KEY"
touch ~/.ssh/authorized_keys ~/.ssh/known_hosts
chmod 600 ~/.ssh/authorized_keys
grep -qF "$(cat "$KEY.pub")" ~/.ssh/authorized_keys || cat "$KEY.pub" >> ~/.ssh/authorized_keys
wait_for 20 sshd sh -c "ssh-keyscan -t ed25519 localhost 2>/dev/null | grep -q ed25519"
if ! ssh-keygen -F localhost -f ~/.ssh/known_hosts >/dev/null; then
    ssh-keyscan -t ed25519,ecdsa,rsa localhost 2>/dev/null >> ~/.ssh/known_hosts
fi
# A host alias for core.ssh_async, which reads its connection settings from ~/.ssh/config.
touch ~/.ssh/config
if ! grep -q "^Host aiida-dpgen-localhost$" ~/.ssh/config; then
    printf '\nHost aiida-dpgen-localhost\n    HostName localhost\n    User root\n    IdentityFile %s\n    IdentitiesOnly yes\n' \
        "$KEY" >> ~/.ssh/config
fi
chmod 600 ~/.ssh/config
ssh -o BatchMode=yes -i "$KEY" localhost true
ssh -o BatchMode=yes aiida-dpgen-localhost true
echo "start-services: sshd running; root@localhost reachable with $KEY"
echo "start-services: all services running"
