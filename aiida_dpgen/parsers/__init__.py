"""Parsers: what comes back from the CalcJobs."""
