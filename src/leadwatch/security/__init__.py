"""Security: one package that the lead intake, the collector, the log pipeline and
the HTTP middleware all ask whether an input is an attack."""

from leadwatch.security.detect import Field, Finding, Threat, inspect

__all__ = ["Field", "Finding", "Threat", "inspect"]
