"""Measuring a model: scoring, metrics and one report per question (evaluate, twins, perturb, ...)."""
