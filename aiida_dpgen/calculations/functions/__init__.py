"""Calcfunctions: every data transformation of the loop, so that the graph explains each node."""

from .merge_datasets import merge_datasets

__all__ = ('merge_datasets',)
