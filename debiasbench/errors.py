"""Errors a user can act on. The CLI prints them as one line and exits non-zero, no traceback."""

from __future__ import annotations


class DebiasbenchError(Exception):
    """Bad input or an unmet precondition, described in one actionable line."""

    exit_code = 1


class UnknownNameError(DebiasbenchError):
    """A method, model, metric, data set or selector name that nothing registered."""

    exit_code = 2


class DuplicateNameError(DebiasbenchError):
    """Two plugins registered the same name (or alias) for one kind."""


class PluginError(DebiasbenchError):
    """A plugin failed to import or to register."""


class DataError(DebiasbenchError):
    """A data file is missing, malformed or has the wrong checksum."""


class TrainingDiverged(DebiasbenchError):
    """A loss became NaN or infinite; the run stops and writes nothing half-done."""
