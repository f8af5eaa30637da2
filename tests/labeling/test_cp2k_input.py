"""DP-GEN's CP2K template (external_input_path) read as aiida-cp2k's nested dictionary, preprocessor applied."""

from __future__ import annotations

import pathlib

import pytest

from aiida_dpgen.labeling.cp2k_input import Cp2kInputError, parse_cp2k_input

TEMPLATE = pathlib.Path(__file__).parent.parent / 'fixtures' / 'dpgen' / 'template_CH4_cp2k.inp'
LABELER_SECTIONS = ('FORCE_EVAL/SUBSYS/CELL', 'FORCE_EVAL/SUBSYS/COORD', 'FORCE_EVAL/SUBSYS/TOPOLOGY')


def test_dpgens_methane_template_reads_as_aiida_cp2k_parameters():
    parameters = parse_cp2k_input(TEMPLATE, skip=LABELER_SECTIONS)
    force_eval = parameters['FORCE_EVAL']
    assert force_eval['METHOD'] == 'QS'
    assert force_eval['PRINT'] == {'FORCES': {'_': 'ON'}, 'STRESS_TENSOR': {'_': 'ON'}}
    assert force_eval['DFT']['MGRID'] == {'CUTOFF': '400', 'REL_CUTOFF': '60'}, '${CUTOFF} is substituted'
    assert force_eval['DFT']['SCF']['OT'] == {'MINIMIZER': 'DIIS', 'PRECONDITIONER': 'FULL_SINGLE_INVERSE'}
    assert force_eval['DFT']['XC'] == {'XC_FUNCTIONAL': {'_': 'PBE'}}
    assert force_eval['SUBSYS'] == {
        'KIND': [
            {'_': 'H', 'BASIS_SET': 'DZVP-MOLOPT-SR-GTH', 'POTENTIAL': 'GTH-PBE-q1'},
            {'_': 'C', 'BASIS_SET': 'DZVP-MOLOPT-SR-GTH', 'POTENTIAL': 'GTH-PBE-q4'},
        ]
    }, 'the cell, the topology and the coordinates (an @include of a file in each DP-GEN task) are left out'
    assert parameters['GLOBAL'] == {'PROJECT': 'DPGEN'}


def test_without_skipping_the_coordinates_the_missing_include_is_named():
    with pytest.raises(Cp2kInputError, match=r'coord.xyz: cannot read it'):
        parse_cp2k_input(TEMPLATE)


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('&GLOBAL\n  PROJECT $NAME\n&END GLOBAL\n', r'input.inp:2: \$NAME is not set with @SET'),
        ('&GLOBAL\n&END FORCE_EVAL\n', r'input.inp:2: &END FORCE_EVAL closes section GLOBAL'),
        ('&GLOBAL\n  PROJECT x\n', r'section GLOBAL is never closed'),
        ('@IF 1\n&GLOBAL\n&END\n@ENDIF\n', r'input.inp:1: the preprocessor directive @IF is not supported'),
    ],
)
def test_bad_inputs_are_named_with_file_and_line(tmp_path, text, message):
    path = tmp_path / 'input.inp'
    path.write_text(text)
    with pytest.raises(Cp2kInputError, match=message):
        parse_cp2k_input(path)


def test_included_files_and_repeated_keywords(tmp_path):
    (tmp_path / 'dft.inc').write_text(
        '&DFT\n  BASIS_SET_FILE_NAME BASIS_MOLOPT\n  BASIS_SET_FILE_NAME BASIS_ADMM\n&END DFT\n'
    )
    (tmp_path / 'input.inp').write_text('@SET PART dft.inc\n&FORCE_EVAL ! a comment\n  @INCLUDE ${PART}\n&END\n')
    parameters = parse_cp2k_input(tmp_path / 'input.inp')
    assert parameters == {'FORCE_EVAL': {'DFT': {'BASIS_SET_FILE_NAME': ['BASIS_MOLOPT', 'BASIS_ADMM']}}}
