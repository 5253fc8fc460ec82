"""Nightly batch scoring: logged mail in, one results row per message out (``mailguard score``)."""

from serve.scoring.batch import score_batch
from serve.scoring.runner import ScoreOutcome, run_scoring
from serve.scoring.settings import QueueRules, ScoreSettings, load_score_settings

__all__ = ["QueueRules", "ScoreOutcome", "ScoreSettings", "load_score_settings", "run_scoring", "score_batch"]
