"""The ``metadata.options`` defaults this package's CalcJobs share."""

from __future__ import annotations

ONE_PROCESS = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}


def set_job_defaults(spec, parser: str, withmpi: bool = False, resources: dict | None = ONE_PROCESS) -> None:
    """Default ``parser_name``, MPI and resources of a CalcJob: one process unless the job runs under MPI or
    the caller asks for more (``resources=None`` leaves the scheduler's own default)."""
    options = spec.inputs['metadata']['options']
    options['parser_name'].default = parser
    options['withmpi'].default = withmpi
    if resources is not None:
        options['resources'].default = dict(resources)
