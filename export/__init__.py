"""fakeface.export."""
