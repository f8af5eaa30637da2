"""Labelers: the first-principles engines behind LabelWorkChain, found through the ``aiida_dpgen.labelers`` entry points."""
