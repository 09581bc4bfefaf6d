"""The mobile port kit (``fakeface export kit``; what it holds: export/KIT.md).

Read top-down, one module each:

* :mod:`.build`: ``build_kit``, the kit folder written in one go;
* :mod:`.models`: which model files go in (classifier variants that passed, MTCNN nets);
* :mod:`.photos`: the photos the golden vectors are computed on;
* :mod:`.pipeline`: pipeline.json, every constant read from the edge code
  (:mod:`.model_io`: each model file's input tensor);
* :mod:`.stages`: the stage table (golden file, tolerance) everything else is written from;
* :mod:`.trace` and :mod:`.golden`: run the pipeline stage by stage and write the golden vectors;
* :mod:`.porting`: PORTING.md;
* :mod:`.verify` and :mod:`.compare`: ``--verify``, a port's dumps against the golden vectors;
* :mod:`.files`: the kit's .npy and JSON files.

Nothing here needs TensorFlow, and this package imports none of its modules, so
``fakeface export --help`` does not load OpenCV or the interpreters.
"""
