"""What runs: CalcJobs and calcfunctions."""
