"""merge_datasets: the calcfunction through which the training data grows, visibly in the graph."""

from __future__ import annotations

import pytest
from aiida.common.links import LinkType
from aiida.plugins import CalculationFactory

from aiida_dpgen.calculations.functions import merge_datasets
from aiida_dpgen.data import LabeledDatasetData


def test_merge_drops_exact_duplicates_and_links_its_inputs(aiida_profile, make_cu_system):
    first = make_cu_system('fcc', 3, seed=1)
    new_fcc = make_cu_system('fcc', 1, seed=2)
    second_fcc = first.sub_system([0, 2])
    second_fcc.append(new_fcc)
    bcc = make_cu_system('bcc', 2, seed=3)

    init = LabeledDatasetData.from_dpdata(first, type_map=['Cu']).store()
    iteration = LabeledDatasetData.from_dpdata([second_fcc, bcc], type_map=['Cu']).store()

    merged, node = merge_datasets.run_get_node(init=init, iter_000=iteration)

    assert node.is_finished_ok
    assert merged.nframes == 3 + 1 + 2
    assert {s['name']: s['nframes'] for s in merged.systems} == {'Cu4': 4, 'Cu2': 2}
    inputs = node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
    assert {link.link_label: link.node.pk for link in inputs} == {'init': init.pk, 'iter_000': iteration.pk}
    assert merged.creator.pk == node.pk
    assert 'exact duplicates dropped' in ''.join(log.message for log in _logs(node))


def _logs(node):
    from aiida.orm import Log

    return Log.collection.get_logs_for(node)


def test_merge_keeps_frames_that_differ_only_in_labels(aiida_profile, make_cu_system):
    system = make_cu_system('fcc', 2, seed=4)
    relabeled = system.copy()
    relabeled.data['energies'] = relabeled.data['energies'] + 0.1
    first = LabeledDatasetData.from_dpdata(system, type_map=['Cu'])
    second = LabeledDatasetData.from_dpdata(relabeled, type_map=['Cu'])

    merged = merge_datasets(a=first, b=second)

    assert merged.nframes == 4


def test_merge_refuses_different_type_maps(aiida_profile, make_cu_system):
    cu_only = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=['Cu'])
    cu_ni = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=['Cu', 'Ni'])
    with pytest.raises(ValueError, match=r"dataset 'b' has type_map=\['Cu', 'Ni'\], but 'a' has"):
        merge_datasets(a=cu_only, b=cu_ni)


def test_merge_refuses_to_mix_label_sets_in_one_system(aiida_profile, make_cu_system):
    with_virials = make_cu_system('fcc', 1, seed=5)
    without_virials = make_cu_system('fcc', 1, seed=6)
    del without_virials.data['virials']
    a = LabeledDatasetData.from_dpdata(with_virials, type_map=['Cu'])
    b = LabeledDatasetData.from_dpdata(without_virials, type_map=['Cu'])
    with pytest.raises(ValueError, match=r"system 'Cu4': frames with labels \['energies', 'forces'\] cannot"):
        merge_datasets(a=a, b=b)


def test_merge_is_registered_as_a_calculation_entry_point():
    assert CalculationFactory('dpgen.merge_datasets') is merge_datasets
