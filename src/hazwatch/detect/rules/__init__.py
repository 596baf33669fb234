from hazwatch.detect.rules.limits import LimitEvaluator, LimitState, Transitions

__all__ = ["LimitEvaluator", "LimitState", "Transitions"]
