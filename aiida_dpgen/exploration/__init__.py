"""Exploration logic without AiiDA: model deviation files, selection, LAMMPS inputs, schedules."""
