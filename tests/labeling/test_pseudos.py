"""Offline pseudopotential families: one PBE file per element, PAW first, installed as an aiida-pseudo family."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family, select_pbe_files

DEBIAN_CU = DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'
NAMES = [
    'Fe.pbe-nd-rrkjus.UPF',
    'Fe.pbe-spn-rrkjus_psl.0.2.1.UPF',
    'Fe.pbesol-spn-kjpaw_psl.1.0.0.UPF',
    'Fe.rel-pbe-spn-rrkjus_psl.0.2.1.UPF',
    'Fe.pbe-mt_fhi.UPF',
    'C.pbe-rrkjus.UPF',
    'C.pbe-n-kjpaw_psl.0.1.UPF',
    'Cu.pbe-kjpaw.UPF',
    'Cu.pz-d-rrkjus.UPF',
    'Al.pz-vbc.UPF',
]


def test_select_prefers_paw_then_ultrasoft_then_pslibrary(tmp_path):
    for name in NAMES:
        (tmp_path / name).write_text('')
    selected = {element: path.name for element, path in select_pbe_files(tmp_path).items()}
    assert selected == {
        'C': 'C.pbe-n-kjpaw_psl.0.1.UPF',
        'Cu': 'Cu.pbe-kjpaw.UPF',
        'Fe': 'Fe.pbe-spn-rrkjus_psl.0.2.1.UPF',  # no scalar-relativistic PBE PAW: pslibrary ultrasoft
    }


def test_missing_directory_says_what_to_install(tmp_path):
    with pytest.raises(ValueError, match='quantum-espresso-data'):
        select_pbe_files(tmp_path / 'nowhere')


@pytest.mark.skipif(not DEBIAN_CU.is_file(), reason='Debian quantum-espresso-data not installed')
def test_install_family_from_named_files_is_idempotent(aiida_profile_clean, tmp_path):
    copy = tmp_path / 'any-name.UPF'
    shutil.copyfile(DEBIAN_CU, copy)
    family = install_pseudo_family('test/Cu', files={'Cu': copy})
    assert [pseudo.element for pseudo in family.nodes] == ['Cu']
    assert 'Cu: any-name.UPF' in family.description
    assert install_pseudo_family('test/Cu').pk == family.pk
    with pytest.raises(ValueError, match='not found'):
        install_pseudo_family('test/missing', files={'Cu': pathlib.Path(tmp_path / 'absent.UPF')})
