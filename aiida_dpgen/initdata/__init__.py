"""Initial data and configurations of the loop (DP-GEN init_bulk and init_surf)."""
