"""fakeface edge runtime: face detection plus real/fake classification without TensorFlow.

Import what you need from the submodules, e.g.::

    from fakeface.edge.pipeline import FakeFaceChecker, CheckerOptions

This package must never import TensorFlow, Keras or the ``mtcnn`` package.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
