"""Multivariate detectors: one per unit (a group of sensors), fitted on normal data, scoring each
sample against a threshold chosen on normal data for a target false-alarm rate."""

from hazwatch.detect.multivariate.base import METHODS, Detector, FitError, Model, fit_model

__all__ = ["METHODS", "Detector", "FitError", "Model", "fit_model"]
