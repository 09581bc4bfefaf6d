"""TensorFlow-free MTCNN face detector: ``from fakeface.edge.mtcnn.detector import Detector``."""
