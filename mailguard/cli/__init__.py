"""Command-line interface: the only module that composes pipelines/ and serve/."""

from __future__ import annotations

# Each command module adds its commands to ``app`` when imported.
from mailguard.cli import blend, data, evaluate, package, results, review, score, train  # noqa: E402,F401
from mailguard.cli.app import app


def main() -> None:
    """Entry point of the ``mailguard`` console script."""
    app()


__all__ = ["app", "main"]
