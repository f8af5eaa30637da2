"""Workchains: restart wrappers around each CalcJob, and the steps of the concurrent-learning loop."""
