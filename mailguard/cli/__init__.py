"""Command-line interface: the only module that composes pipelines/ and serve/."""

from __future__ import annotations

from mailguard.cli.app import app


def _register() -> None:
    # Each module adds its commands to ``app`` at import time.
    import importlib

    for name in ("data", "train", "evaluate", "package", "score", "results", "review"):
        try:
            importlib.import_module(f"mailguard.cli.{name}")
        except ModuleNotFoundError as e:  # a command module not written yet
            if e.name != f"mailguard.cli.{name}":
                raise


_register()


def main() -> None:
    """Entry point of the ``mailguard`` console script."""
    app()


__all__ = ["app", "main"]
