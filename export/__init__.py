"""fakeface.export: trained Keras model -> TFLite/ONNX files the edge runtime loads, each checked first.

* :mod:`.api`: ``export_model``, the whole export of one model with its parity gate;
* :mod:`.formats`: the table of formats (one row each) that drives the CLI, the API and the report,
  with the converters :mod:`.tflite_export` and :mod:`.onnx_export`
  (:mod:`.logit`: the model they convert; :mod:`.layer_names`; :mod:`.tf_import`);
* :mod:`.crops`: calibration and parity crops; :mod:`.parity`: metrics, gate and report;
  :mod:`.diagnostics`: the layers that lose most in int8;
* :mod:`.ship`: make the formats that passed the default models (``python -m fakeface.export.ship``);
* :mod:`.mtcnn_nets`: the detector's P-, R- and O-Net for the edge runtime;
* :mod:`.kit`: the mobile port kit (export/KIT.md);
* :mod:`.cli`: the ``fakeface export`` command and its sub-commands, one module each.
"""
