"""TensorFlow-free MTCNN face detector.

    from fakeface.edge.mtcnn import Detector, DetectorOptions

    with Detector(DetectorOptions(min_face_size=40)) as det:
        faces = det.detect(image_rgb)
"""

from .detector import Detector, DetectorOptions, InvalidImageArray

__all__ = ["Detector", "DetectorOptions", "InvalidImageArray"]
