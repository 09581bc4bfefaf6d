"""Sub-commands of the training layer, one module each: prepare, train, evaluate, calibrate, generalise."""
