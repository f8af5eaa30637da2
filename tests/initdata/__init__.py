"""Tests of the initial data layer."""
