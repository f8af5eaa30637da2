"""Scripts that CalcJobs copy to the computer and run there."""
