"""Labelers: the first-principles engines behind LabelWorkChain (entry-point group ``aiida_dpgen.labelers``)."""
