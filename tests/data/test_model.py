"""DeepPotentialData: a frozen model file with its metadata and checksum."""

from __future__ import annotations

import hashlib
import pathlib

import pytest
from aiida.orm import load_node

from aiida_dpgen.data import DeepPotentialData

FROZEN_MODEL = pathlib.Path(__file__).parents[1] / 'fixtures' / 'models' / 'cu_se_e2_a.pb'


def test_model_records_metadata_and_checksum(aiida_profile):
    node = DeepPotentialData(
        str(FROZEN_MODEL), type_map=['Cu'], rcut=4.0, descriptor='se_e2_a', seed=7, training_steps=100
    ).store()

    loaded = load_node(node.pk)
    assert loaded.filename == 'cu_se_e2_a.pb'
    assert loaded.deepmd_backend == 'tensorflow'
    assert (loaded.type_map, loaded.rcut, loaded.descriptor) == (['Cu'], 4.0, 'se_e2_a')
    assert (loaded.seed, loaded.training_steps) == (7, 100)
    assert loaded.sha256 == hashlib.sha256(FROZEN_MODEL.read_bytes()).hexdigest()
    assert loaded.verify_checksum()


def test_pytorch_suffix_gives_pytorch_backend(aiida_profile, tmp_path):
    model = tmp_path / 'frozen_model.pth'
    model.write_bytes(FROZEN_MODEL.read_bytes())
    assert DeepPotentialData(str(model), type_map=['Cu']).deepmd_backend == 'pytorch'


def test_unknown_suffix_is_refused_naming_the_file(aiida_profile, tmp_path):
    checkpoint = tmp_path / 'model.ckpt.index'
    checkpoint.write_bytes(b'not a frozen model')
    with pytest.raises(ValueError, match=r"filename='model.ckpt.index': suffix '.index' is not a frozen"):
        DeepPotentialData(str(checkpoint), type_map=['Cu'])


def test_negative_cutoff_is_refused(aiida_profile):
    with pytest.raises(ValueError, match=r'rcut=-1.0: expected a positive cutoff radius in Å'):
        DeepPotentialData(str(FROZEN_MODEL), type_map=['Cu'], rcut=-1.0)
