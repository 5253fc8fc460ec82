"""Model families by name: the saved format names a family, this table says which class reads it.

Classes are imported on demand, so loading a linear model never imports torch and scoring an ONNX
folder never imports torch or transformers. An import error inside a family's module surfaces as
itself (a bug there must not read as "unknown family").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mailguard.errors import ModelFormatError

if TYPE_CHECKING:
    from models.base import Classifier

#: family name -> "module:Class"
FAMILIES: dict[str, str] = {
    "linear": "models.linear:LinearClassifier",
    "transformer": "models.transformer:TransformerClassifier",
    "onnx": "models.onnx_model:OnnxClassifier",
    "cascade": "models.cascade:CascadeClassifier",
    "blend": "models.blend:BlendClassifier",
    "student": "models.student:StudentClassifier",
}


def family_class(name: str) -> type[Classifier]:
    """Return the classifier class of family ``name``; raise ``ModelFormatError`` for an unknown name."""
    target = FAMILIES.get(name)
    if target is None:
        raise ModelFormatError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    module, _, attr = target.partition(":")
    cls: type[Classifier] = getattr(importlib.import_module(module), attr)
    return cls
