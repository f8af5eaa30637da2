"""What the CalcJobs that run one of this package's Python scripts on the computer share."""

from __future__ import annotations

import importlib.resources

from aiida.common import CalcInfo, CodeInfo

STDOUT = 'aiida.out'


def python_script_job(folder, code, package: str, script: str, retrieve: list[str]) -> CalcInfo:
    """Copy ``script`` of ``package`` into the job's ``folder`` and run it with ``code`` (a Python), its
    standard output in ``aiida.out``; ``retrieve`` and that output come back."""
    source = importlib.resources.files(package).joinpath(script)
    folder.create_file_from_filelike(source.open('rb'), script, 'wb')
    code_info = CodeInfo()
    code_info.code_uuid = code.uuid
    code_info.cmdline_params = [script]
    code_info.stdout_name = STDOUT
    calc_info = CalcInfo()
    calc_info.codes_info = [code_info]
    calc_info.retrieve_list = [*retrieve, STDOUT]
    return calc_info
