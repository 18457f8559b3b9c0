"""The govwatch commands, a module per group; importing them fills govwatch.shell.COMMANDS in this
order (the order of `govwatch --help`)."""
from ..shell import COMMANDS
from . import channels, data, db, findings, officers, report, rules, scan, schedule, serve, silences  # noqa: F401

__all__ = ["COMMANDS"]
