"""Per-model final errors of an ensemble and how far the models spread."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_dpgen.training.ensemble import spread

SUMMARY_METRICS = ('rmse_e_trn', 'rmse_f_trn', 'rmse_v_trn', 'rmse_e_val', 'rmse_f_val', 'rmse_v_val')
"""lcurve.out's final errors: energy per atom (eV/atom), force (eV/Å), virial per atom (eV/atom)."""


@calcfunction
def summarize_training(**output_parameters: Dict) -> Dict:
    """One summary of an ensemble from each model's parser output: final errors per model and their spread."""
    models = {}
    for name in sorted(output_parameters):
        parameters = output_parameters[name].get_dict()
        final = parameters.get('final', {})
        models[name] = {
            **{metric: final.get(metric) for metric in SUMMARY_METRICS},
            'steps': parameters.get('last_step'),
            'wall_time_seconds': parameters.get('wall_time_seconds'),
        }
    return Dict(
        {
            'models': models,
            'spread': {metric: spread([model[metric] for model in models.values()]) for metric in SUMMARY_METRICS},
        }
    )
