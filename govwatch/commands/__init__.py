"""The govwatch commands, a module per group. COMMANDS lists them in the order of `govwatch --help`."""
from ..shell import Command
from . import (
    channels,
    data,
    db,
    findings,
    officers,
    report,
    rules,
    scan,
    schedule,
    serve,
    silences,
)

COMMANDS: dict[str, Command] = {c.name: c for c in (
    channels.channels_cmd,
    data.import_cmd,
    data.sample_cmd,
    data.demo_cmd,
    db.db_cmd,
    findings.findings_cmd,
    findings.finding_cmd,
    findings.indicators_cmd,
    officers.officers_cmd,
    report.report,
    report.index,
    rules.rules,
    scan.scan,
    schedule.schedule,
    serve.serve,
    silences.silences_cmd,
)}

__all__ = ["COMMANDS"]
