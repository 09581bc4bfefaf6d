"""fakeface.train."""
