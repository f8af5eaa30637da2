"""Data types: labeled datasets, unlabeled configurations and frozen Deep Potential models."""

from .configurations import ConfigurationsData
from .dataset import LabeledDatasetData
from .model import DeepPotentialData

__all__ = ('ConfigurationsData', 'DeepPotentialData', 'LabeledDatasetData')
