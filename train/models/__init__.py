"""Classifier architectures, the pretrained EfficientNet-Lite0 port, and the int8-aware fine-tuning parts."""
