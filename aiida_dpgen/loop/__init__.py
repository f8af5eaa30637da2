"""The concurrent-learning loop: its plan (schedule and convergence) and its per-iteration reports."""
