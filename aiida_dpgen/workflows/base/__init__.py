"""BaseRestartWorkChains: each CalcJob with its error handlers."""
