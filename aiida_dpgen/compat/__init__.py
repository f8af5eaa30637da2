"""Compatibility with DP-GEN (dpgen 0.x): its inputs and its working directories."""
