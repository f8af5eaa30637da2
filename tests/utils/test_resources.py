"""Per-step resources: one vocabulary, translated into submission scripts by AiiDA's own scheduler plugins."""

from __future__ import annotations

import pathlib

import pytest
from aiida.common.datastructures import CodeRunMode
from aiida.plugins import SchedulerFactory
from aiida.schedulers.datastructures import JobTemplate, JobTemplateCodeInfo

from aiida_dpgen.utils.resources import ResourceError, job_options, validate_resources, walltime_seconds

GPU_TRAINING = {
    'nodes': 1,
    'mpiprocs_per_node': 1,
    'gpus_per_node': 1,
    'queue': 'gpu',
    'walltime': '02:00:00',
    'account': 'mlp',
    'prepend_text': 'module load cuda/12\nsource /opt/deepmd/bin/activate',
}


def submit_script(scheduler: str, options: dict) -> str:
    """The script AiiDA's scheduler plugin writes for a job with these ``metadata.options``."""
    plugin = SchedulerFactory(scheduler)()
    template = JobTemplate()
    template.job_resource = plugin.create_job_resource(**options['resources'])
    template.max_wallclock_seconds = options.get('max_wallclock_seconds')
    template.queue_name = options.get('queue_name')
    template.account = options.get('account')
    template.qos = options.get('qos')
    template.max_memory_kb = options.get('max_memory_kb')
    template.custom_scheduler_commands = options.get('custom_scheduler_commands', '')
    template.prepend_text = options.get('prepend_text', '')
    template.job_environment = options.get('environment_variables')
    template.shebang = '#!/bin/bash'
    template.codes_run_mode = CodeRunMode.SERIAL
    template.codes_info = [JobTemplateCodeInfo(cmdline_params=['dp', '--tf', 'train', 'input.json'])]
    return plugin.get_submit_script(template)


@pytest.mark.parametrize(('value', 'seconds'), [(3600, 3600), ('01:00:00', 3600), ('1-00:30:00', 88200)])
def test_walltimes_in_seconds_or_slurm_notation(value, seconds):
    assert walltime_seconds(value) == seconds


def test_slurm_gpu_job_asks_for_the_gpu_partition_account_and_walltime():
    script = submit_script('core.slurm', job_options(GPU_TRAINING, 'core.slurm'))
    for line in (
        '#SBATCH --gpus-per-node=1',
        '#SBATCH --partition=gpu',
        '#SBATCH --account=mlp',
        '#SBATCH --time=02:00:00',
        '#SBATCH --nodes=1',
        '#SBATCH --ntasks-per-node=1',
        'module load cuda/12',
    ):
        assert line in script.splitlines(), (line, script)


def test_pbspro_cpu_labeling_job_selects_nodes_and_processes():
    labeling = {'nodes': 2, 'mpiprocs_per_node': 32, 'queue': 'cpu', 'walltime': 7200, 'memory_mb': 4000}
    script = submit_script('core.pbspro', job_options(labeling, 'core.pbspro'))
    assert '#PBS -l select=2:mpiprocs=32:mem=4096000kb' in script.splitlines(), script  # memory is per node
    assert '#PBS -q cpu' in script.splitlines()
    assert '#PBS -l walltime=02:00:00' in script.splitlines()


def test_lsf_counts_processes_and_spreads_them_over_the_nodes():
    options = job_options({'nodes': 2, 'mpiprocs_per_node': 8, 'gpus_per_node': 4, 'queue': 'normal'}, 'core.lsf')
    script = submit_script('core.lsf', options)
    for line in ('#BSUB -n 16', '#BSUB -R "span[ptile=8]"', '#BSUB -gpu "num=4"', '#BSUB -q normal'):
        assert line in script.splitlines(), (line, script)


def test_threads_per_process_set_cores_and_omp_threads():
    options = job_options({'mpiprocs_per_node': 2, 'threads_per_mpiproc': 4}, 'core.slurm')
    assert options['environment_variables'] == {'OMP_NUM_THREADS': '4'}
    script = submit_script('core.slurm', options)
    assert '#SBATCH --cpus-per-task=4' in script.splitlines(), script


def test_direct_runs_on_one_machine_with_its_own_gpus():
    assert job_options({'mpiprocs_per_node': 2, 'gpus_per_node': 1}, 'core.direct') == {
        'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}
    }


@pytest.mark.parametrize(
    ('resources', 'scheduler', 'message'),
    [
        (
            {'gpu_per_node': 1},
            'core.slurm',
            'train.gpu_per_node=1: unknown resource key; did you mean `gpus_per_node`?',
        ),
        ({'nodes': 0}, 'core.slurm', 'train.nodes=0: expected a whole number of at least 1'),
        ({'walltime': '2h'}, 'core.slurm', 'train.walltime=\'2h\': give seconds (3600) or "HH:MM:SS"'),
        ({'queue': 5}, 'core.slurm', 'train.queue=5: expected a string'),
        ({'gpus_per_node': 1}, 'core.pbspro', 'train.gpus_per_node=1: core.pbspro has no GPU request'),
        ({'nodes': 2}, 'core.direct', 'train.nodes=2: core.direct runs on one machine'),
        ({'qos': 'high'}, 'core.lsf', "train.qos='high': core.lsf does not pass a QOS to the scheduler"),
    ],
)
def test_bad_resources_name_the_key_the_value_and_the_fix(resources, scheduler, message):
    with pytest.raises(ResourceError) as error:
        job_options(resources, scheduler, step='train')
    assert message in str(error.value)


def test_validation_keeps_what_it_checked():
    assert validate_resources({'walltime': '00:10:00', 'queue': 'debug'}) == {'walltime': 600, 'queue': 'debug'}


SCHEDULER_OUTPUTS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'schedulers'


def test_pbspro_submission_and_status_outputs_are_read_as_the_engine_needs():
    from aiida.schedulers.datastructures import JobState

    plugin = SchedulerFactory('core.pbspro')()
    assert plugin._parse_submit_output(0, (SCHEDULER_OUTPUTS / 'qsub.out').read_text(), '') == '4101.pbs01'
    jobs = {
        job.job_id: job for job in plugin._parse_joblist_output(0, (SCHEDULER_OUTPUTS / 'qstat_f.out').read_text(), '')
    }
    assert jobs['4101.pbs01'].job_state == JobState.RUNNING
    assert jobs['4101.pbs01'].wallclock_time_seconds == 21 * 60 + 40
    assert jobs['4102.pbs01'].job_state == JobState.QUEUED
    assert jobs['4102.pbs01'].num_machines == 2
    assert jobs['4103.pbs01'].job_state == JobState.DONE


def test_lsf_submission_and_status_outputs_are_read_as_the_engine_needs():
    from aiida.schedulers.datastructures import JobState

    plugin = SchedulerFactory('core.lsf')()
    assert plugin._parse_submit_output(0, (SCHEDULER_OUTPUTS / 'bsub.out').read_text(), '') == '731904'
    jobs = {
        job.job_id: job for job in plugin._parse_joblist_output(0, (SCHEDULER_OUTPUTS / 'bjobs.out').read_text(), '')
    }
    assert jobs['731904'].job_state == JobState.RUNNING
    assert jobs['731904'].requested_wallclock_time_seconds == 7200
    assert jobs['731904'].queue_name == 'gpu'
    assert jobs['731911'].job_state == JobState.QUEUED
    assert jobs['731911'].num_mpiprocs == 64
    assert jobs['731890'].job_state == JobState.DONE
