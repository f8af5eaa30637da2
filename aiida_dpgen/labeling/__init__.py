"""Plain labeling logic: labels in deepmd units, k-point meshes, screening, offline pseudopotential families."""
