"""mailguard: find e-mail acceptable-use policy violations in logged staff mail.

This package is the domain layer (taxonomy, mail reading, text handling) plus
the CLI that composes everything. Domain modules import nothing from
``models``, ``pipelines`` or ``serve``; only ``mailguard.cli`` may.
"""

__version__ = "0.1.0"
