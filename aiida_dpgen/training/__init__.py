"""Training logic without AiiDA: DeePMD-kit input files, learning curves, `dp test` output, ensembles."""
