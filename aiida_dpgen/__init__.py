"""aiida-dpgen: DP-GEN concurrent learning of Deep Potentials as provenance-tracked AiiDA workflows."""

__version__ = '0.1.0.dev0'
