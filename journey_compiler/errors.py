"""One error hierarchy: every user-facing failure names where it happened and why."""

from __future__ import annotations


class JourneysError(Exception):
    """Base class for errors a user can act on."""


class ConfigError(JourneysError):
    """A configuration file is invalid: names the file, the YAML path inside it, and the reason."""

    def __init__(self, file: str, yaml_path: str, reason: str) -> None:
        self.file = file
        self.yaml_path = yaml_path
        self.reason = reason
        super().__init__(f"{file}: {yaml_path or '<root>'}: {reason}")


class ConfigErrors(JourneysError):
    """Several configuration errors found in one validation pass (all are reported, not just the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class NotCompilable(JourneysError):
    """A valid journey uses a feature the compiler does not execute yet."""

    def __init__(self, journey_id: str, what: str) -> None:
        self.journey_id = journey_id
        self.what = what
        super().__init__(f"journey {journey_id!r}: {what} is not compiled yet")


class TickError(JourneysError):
    """A tick cannot run as asked (e.g. it lies before the last tick already applied)."""
