"""Questions asked of finished runs: their reports, and where models and frames came from."""
