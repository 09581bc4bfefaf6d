"""fakeface.benchmarks."""
