"""Crop folders: their layout and fixed split, face detection and cropping, loading and augmentation."""
