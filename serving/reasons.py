"""Why an action was recommended: the rules' own reasons (`rules.reasons`), used by serving."""

from rules.reasons import action_by_id, frame_reasons, reasons

__all__ = ["action_by_id", "frame_reasons", "reasons"]
