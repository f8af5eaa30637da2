"""Property tests of a potential against a reference (the paper's Table 1): the suite and its comparison."""
