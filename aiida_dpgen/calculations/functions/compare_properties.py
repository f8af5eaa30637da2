"""The comparison table of a property run: each model's properties against the reference's."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_dpgen.properties.compare import compare


@calcfunction
def compare_properties(**properties: Dict) -> Dict:
    """``reference`` (optional) and the models' property Dicts (any other names) in, one row per property out:
    reference, ensemble mean, spread (standard deviation over the models), difference and relative difference."""
    reference = properties['reference'].get_dict() if 'reference' in properties else None
    models = [properties[key].get_dict() for key in sorted(properties) if key != 'reference']
    rows = compare(reference, models)
    return Dict({'models': len(models), 'rows': [row.as_dict() for row in rows]})
