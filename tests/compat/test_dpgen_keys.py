"""Every key DP-GEN 0.14 defines for the supported engines is classified: translated, without effect, only at
its default, or not supported. Checked against DP-GEN's own argument definitions (its dargs `arginfo`), run in
the reference venv (`.venv-dpgen`, made by scripts/install.sh); marked `engines` for that reason."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from aiida_dpgen.compat.arguments import (
    FP_STYLES,
    JOB_NOT_SUPPORTED,
    JOB_ONLY_DEFAULT,
    NO_EFFECT,
    NOT_SUPPORTED,
    ONLY_DEFAULT,
    model_devi_job_arguments,
    param_arguments,
)

pytestmark = pytest.mark.engines

REPOSITORY = pathlib.Path(__file__).parents[2]
REFERENCE_PYTHON = pathlib.Path(
    os.environ.get('AIIDA_DPGEN_REFERENCE_PYTHON', REPOSITORY / '.venv-dpgen' / 'bin' / 'python')
)
DPGEN_KEYS = """
import json
from dpgen.generator.arginfo import model_devi_jobs_args, run_jdata_arginfo
arginfo = run_jdata_arginfo()
keys = {'common': sorted(arginfo.sub_fields), 'variants': {}}
for flag, variant in arginfo.sub_variants.items():
    for choice, argument in variant.choice_dict.items():
        keys['variants'][f'{flag}={choice}'] = sorted(argument.sub_fields)
keys['job'] = sorted(model_devi_jobs_args().sub_fields)
print(json.dumps(keys))
"""


@pytest.fixture(scope='module')
def dpgen_keys():
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f'{REFERENCE_PYTHON} is missing: run scripts/install.sh (it installs dpgen 0.14.0 there)')
    completed = subprocess.run([str(REFERENCE_PYTHON), '-c', DPGEN_KEYS], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_run_key_of_the_supported_engines_is_classified(dpgen_keys):
    classified = set(NO_EFFECT) | set(ONLY_DEFAULT) | set(NOT_SUPPORTED)
    variants = dpgen_keys['variants']
    engines = ['mlp_engine=dp', 'model_devi_engine=lammps', *(f'fp_style={style}' for style in FP_STYLES)]
    for style in FP_STYLES:
        translated = set(param_arguments(style).sub_fields)
        defined = set(dpgen_keys['common']) | {key for name in engines[:2] for key in variants[name]}
        defined |= set(variants[f'fp_style={style}'])
        assert sorted(defined - translated - classified) == [], f'fp_style={style}: keys DP-GEN defines, unclassified'


def test_every_job_key_is_classified(dpgen_keys):
    translated = set(model_devi_job_arguments().sub_fields)
    assert sorted(set(dpgen_keys['job']) - translated - set(JOB_ONLY_DEFAULT) - set(JOB_NOT_SUPPORTED)) == []
