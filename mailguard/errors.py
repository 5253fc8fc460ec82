"""Exceptions raised by mailguard library code; the CLI and the service decide how to show them."""


class MailguardError(Exception):
    """Base class: an error with a message fit to show a user as one line."""


class ConfigError(MailguardError):
    """A configuration file or option is missing, unreadable or invalid."""


class InputError(MailguardError):
    """An input path cannot be read at all (missing, unreadable, unknown format)."""


class ModelNotFoundError(MailguardError):
    """A model alias, version or path does not resolve to a usable saved model."""


class ModelFormatError(MailguardError):
    """A saved model is incomplete, from another label set, or otherwise unloadable."""


class OutputError(MailguardError):
    """An output location cannot be used safely (not ours to overwrite, or a symbolic link)."""
