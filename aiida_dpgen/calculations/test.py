"""`DpTestCalculation`: errors of one model on one labeled dataset (``dp test``)."""

from __future__ import annotations

from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob
from aiida.orm import Dict

from aiida_dpgen.calculations.options import set_job_defaults
from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData
from aiida_dpgen.training.inputs import BACKEND_FLAGS, FROZEN_MODEL_SUFFIX

BACKEND_BY_DEEPMD_NAME = {'tensorflow': 'tf', 'pytorch': 'pt'}


def validate_inputs(inputs: dict, _) -> str | None:
    model, dataset = inputs.get('model'), inputs.get('dataset')
    if model is None or dataset is None:
        return None
    if model.deepmd_backend not in BACKEND_BY_DEEPMD_NAME:
        return f'model backend {model.deepmd_backend!r} cannot be tested here; use a .pb (tf) or .pth (pt) model'
    outside = [element for element in dataset.elements if element not in model.type_map]
    if outside:
        return f"dataset contains elements {outside} that are not in the model's type_map={model.type_map}"
    return None


class DpTestCalculation(CalcJob):
    """Energy, force and virial errors of ``model`` on ``dataset``, per system and weighted over systems."""

    DATA_FOLDER = 'data'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('model', valid_type=DeepPotentialData, help='The frozen model to evaluate.')
        spec.input('dataset', valid_type=LabeledDatasetData, help='Labeled frames to compare against.')
        spec.inputs.validator = validate_inputs
        set_job_defaults(spec, parser='dpgen.test')
        spec.output(
            'metrics',
            valid_type=Dict,
            help='{"systems": {name: {nframes, energy_rmse_per_atom (eV/atom), force_rmse (eV/Å), ...}}, '
            '"average": {...}}',
        )
        spec.exit_code(300, 'ERROR_NO_LOG', message='dp test wrote no log; read test.out.')
        spec.exit_code(310, 'ERROR_INVALID_LOG', message='The dp test log could not be read: {error}')

    def prepare_for_submission(self, folder):
        backend = BACKEND_BY_DEEPMD_NAME[self.inputs.model.deepmd_backend]
        model_filename = f'model{FROZEN_MODEL_SUFFIX[backend]}'
        code_info = CodeInfo()
        code_info.code_uuid = self.inputs.code.uuid
        code_info.cmdline_params = [
            BACKEND_FLAGS[backend], 'test', '-m', model_filename, '-s', self.DATA_FOLDER, '-l', 'test.log'
        ]  # fmt: skip
        code_info.stdout_name = 'test.out'
        code_info.stderr_name = 'test.err'

        calcinfo = CalcInfo()
        calcinfo.codes_info = [code_info]
        calcinfo.local_copy_list = [
            (self.inputs.model.uuid, self.inputs.model.filename, model_filename),
            (self.inputs.dataset.uuid, 'systems', self.DATA_FOLDER),
        ]
        calcinfo.retrieve_list = ['test.log', 'test.out', 'test.err']
        return calcinfo
