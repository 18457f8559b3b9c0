"""The notification pipeline (Alertmanager-style): finding events → outbox → digests → each
recipient's channel. A module per job:

    model       rows, neutral entries, messages, the Notifier and Formatter protocols, errors
    route       the route stage: who is told of a finding event (durable, idempotent outbox rows)
    silences    Silencer.mutes(row), adding and removing silences
    quiet       quiet hours
    channels    which enabled channel reaches an officer (config `channels.order`)
    digest      packing a recipient's rows into messages under a channel's limits
    stages      collect, obsolete, silence, quiet, group, dedup, deliver, record
    pipeline    the chains and the delivery job: deliver_pending, route_now
    reports     announcing a written report
    backlog     a newly bound officer's open findings, once

Channels' formatters and notifiers live in bot/notifiers/ (checker imports no messenger).
"""
from .backlog import enqueue_backlog
from .channels import CHANNEL_NAMES, Channels
from .digest import PAGE_VERB, page_of_message
from .model import (ACTION_WORDS, ACTIONS, KIND_LABEL, SEVERITY_ICON, SEVERITY_NAME, Button, DeliveryResult,
                    Entry, Formatter, Message, Notifier, PermanentError, RetryableError, Row)
from .pipeline import PREPARE, SEND, deliver_pending, route_now, run
from .quiet import in_quiet_hours, quiet_end
from .reports import REPORT_NAMES, announce_report
from .route import route
from .silences import Silencer, add_silence, parse_duration, remove_silence

__all__ = ["ACTIONS", "PAGE_VERB", "page_of_message", "ACTION_WORDS", "CHANNEL_NAMES", "KIND_LABEL", "PREPARE", "REPORT_NAMES", "SEND",
           "SEVERITY_ICON", "SEVERITY_NAME", "Button", "Channels", "DeliveryResult", "Entry", "Formatter",
           "Message", "Notifier", "PermanentError", "RetryableError", "Row", "Silencer", "add_silence",
           "announce_report", "deliver_pending", "enqueue_backlog", "in_quiet_hours", "parse_duration",
           "quiet_end", "remove_silence", "route", "route_now", "run"]
