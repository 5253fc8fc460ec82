"""Registry of public-corpus adapters: corpus name -> ``load(root) -> DataFrame`` in the adapter schema.

Each adapter module reads one corpus folder under the datasets root (``../shared/datasets`` or
``data/raw`` after ``mailguard data fetch``) and states its label mapping next to the MANIFEST section
it follows. CrowS-Pairs is deliberately absent: its data statement forbids training on it
(evaluation only), and a test checks that no adapter opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipelines.sources import (
    bbq_age,
    davidson,
    enron_spam,
    ethos,
    mlma,
    olid,
    political_fundraising,
    sms_spam,
    toxigen_annotated,
    toxigen_prompts,
    youtube_spam,
)
from pipelines.sources.common import COLUMNS

Loader = Callable[[Path], pd.DataFrame]

#: corpus name (= its folder under the datasets root and its ``source`` value) -> loader.
ADAPTERS: dict[str, Loader] = {
    module.CORPUS: module.load
    for module in (
        ethos,
        davidson,
        olid,
        toxigen_prompts,
        toxigen_annotated,
        mlma,
        enron_spam,
        sms_spam,
        youtube_spam,
        political_fundraising,
        bbq_age,
    )
}


def load_source(name: str, root: Path) -> pd.DataFrame:
    """Return corpus ``name`` read from ``root/name``; raise ``KeyError`` for an unknown name."""
    return ADAPTERS[name](Path(root))


__all__ = ["ADAPTERS", "COLUMNS", "Loader", "load_source"]
