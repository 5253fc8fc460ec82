"""MLflow ``pyfunc`` flavour for any mailguard classifier: DataFrame with ``text`` in, scores out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from mailguard.taxonomy import LABELS, SCORE_COLUMNS

#: Name of the pyfunc artifact holding the self-describing saved-model folder.
ARTIFACT_KEY = "mailguard_model"


class MailguardPyfunc(PythonModel):  # type: ignore[misc]
    """Serve a saved mailguard model through ``mlflow.pyfunc.load_model(...).predict(df)``."""

    def load_context(self, context: Any) -> None:
        from models.saved import load_classifier

        self.classifier = load_classifier(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        texts = model_input["text"].fillna("").astype(str).tolist()
        scored = self.classifier.score_texts(texts)
        out = pd.DataFrame(scored.proba, columns=list(SCORE_COLUMNS))
        flags = scored.proba >= self.classifier.thresholds_
        out["labels"] = [";".join(lb for lb, f in zip(LABELS, row, strict=True) if f) for row in flags]
        return out


def signature() -> Any:
    """Return the model signature: a ``text`` string column in, ten float scores and ``labels`` out."""
    from mlflow.models import infer_signature

    example_in = pd.DataFrame({"text": ["Quarterly budget review moved to Tuesday."]})
    example_out = pd.DataFrame(np.zeros((1, len(LABELS))), columns=list(SCORE_COLUMNS))
    example_out["labels"] = [""]
    return infer_signature(example_in, example_out)
