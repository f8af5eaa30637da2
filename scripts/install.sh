#!/usr/bin/env bash
# Set up everything on a fresh Debian 12 machine: a venv in .venv with aiida-dpgen and its plugins,
# the development and documentation tools, and the engines (scripts/install-engines.sh). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AIIDA_DPGEN_VENV:-.venv}
PYTHON=${PYTHON:-python3}
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

# DP-GEN itself, in a venv of its own: the reference that tests/exploration/test_dpgen_equivalence.py
# and benchmarks/selection.py compare selection counts and speed against. Never imported by the package
# (its dependencies, pymatgen add-ons and openbabel among them, stay out of the main environment).
# It installs in the background while the rest does (it shares nothing with .venv), waited for below.
REFERENCE_VENV=${AIIDA_DPGEN_REFERENCE_VENV:-.venv-dpgen}
REFERENCE_LOG=$(mktemp)
(
    if ! "$REFERENCE_VENV/bin/python" -c "import dpgen.generator.run" >/dev/null 2>&1; then
        "$PYTHON" -m venv "$REFERENCE_VENV"
        "$REFERENCE_VENV/bin/python" -m pip install -q --disable-pip-version-check "dpgen==0.14.0"
    fi
) >"$REFERENCE_LOG" 2>&1 &
REFERENCE_PID=$!

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"${PIP[@]}" --upgrade pip
"${PIP[@]}" -e ".[dev,docs]"

# The numpy pin, on purpose: deepmd-kit's stack needs numpy 2 and setup.cfg asks numpy>=2, so pip
# resolves aiida-cp2k's parser dependency to cp2k-output-tools 0.2.0, the newest release without a
# numpy<2 cap. aiida-cp2k 2.1.1 is built against 0.5.0, which declares numpy<2 but uses numpy only in
# its PDOS script; we install 0.5.0 over it without dependencies (and with its own regex<2022 cap
# honoured), so numpy is the only requirement left unmet. tests/engines/test_smoke.py runs
# aiida-cp2k's parser on real CP2K output under numpy 2 to keep this honest.
"${PIP[@]}" --no-deps "cp2k-output-tools==0.5.0" "regex>=2021.4,<2022"

bash scripts/install-engines.sh

if ! wait "$REFERENCE_PID"; then
    echo "install: the DP-GEN 0.14 reference venv ($REFERENCE_VENV) failed to install:" >&2
    cat "$REFERENCE_LOG" >&2
    exit 1
fi
rm -f "$REFERENCE_LOG"

# pip check must report nothing but that one deliberate conflict.
conflicts=$("$VENV/bin/python" -m pip check 2>&1 | grep -v -E "^cp2k-output-tools 0\.5\.0 (has requirement|requires) numpy<2\.0" || true)
if [ -n "$conflicts" ] && [ "$conflicts" != "No broken requirements found." ]; then
    echo "install: unexpected dependency conflicts:" >&2
    echo "$conflicts" >&2
    exit 1
fi
echo "install: done ($("$VENV/bin/python" -c 'import aiida_dpgen, aiida, numpy; print(f"aiida-dpgen {aiida_dpgen.__version__}, aiida-core {aiida.__version__}, numpy {numpy.__version__}")'))"
