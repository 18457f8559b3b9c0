"""Configuration: config.yaml validated by its JSON Schema, parsed once into frozen dataclasses."""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, TypeVar
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from . import yamlsafe
from .errors import ConfigError

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


@dataclass(frozen=True)
class HallCalendar:
    extra_holidays: tuple[str, ...] = ()
    extra_workdays: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarConfig:
    extra_holidays: tuple[str, ...] = ()
    extra_workdays: tuple[str, ...] = ()
    halls: dict[str, HallCalendar] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestConfig:
    """Import bounds: dates outside [date_min, date_max] and acceptance more than max_future_days
    after the import are refused row by row (DESIGN.md "Records")."""
    date_min: str = "2000-01-01"
    date_max: str = "2099-12-31"
    max_future_days: int = 30

    @property
    def window(self) -> tuple[str, str]:
        return (self.date_min, self.date_max)


@dataclass(frozen=True)
class FindingsConfig:
    rebound_window_days: int = 90


@dataclass(frozen=True)
class IndicatorsConfig:
    # The satisfied reading of P9 and of the survey tabulation (one key for both): level ≥ this on
    # the 5-level 好差评 scale. 3 (基本满意): the national 好差评 grading counts only 不满意 and 非常不满意
    # as 差评. A survey's 4-option rating maps A–D to levels 5–2 (checker.evaluate.surveys).
    p9_satisfied_level: int = 3
    # P7's N7 (全流程事项通过网上办理量): online cases of items at this online depth or above
    # (4 = the highest, 全流程网办). p7_reading any_online: the looser reading, any online case.
    p7_full_process_depth: int = 4
    p7_reading: str = "full_process"


@dataclass(frozen=True)
class RoutingOverride:
    assignee: str
    rule: str | None = None
    org: str | None = None


@dataclass(frozen=True)
class RoutingConfig:
    overrides: tuple[RoutingOverride, ...] = ()


@dataclass(frozen=True)
class RateLimit:
    overall_per_second: float = 30
    per_chat_per_minute: float = 20
    max_retries: int = 3


@dataclass(frozen=True)
class QuietHours:
    start: str = "20:00"
    end: str = "08:00"


@dataclass(frozen=True)
class TelegramConfig:
    token_env: str = "GOVWATCH_TELEGRAM_TOKEN"
    base_url: str | None = None
    base_file_url: str | None = None
    rate_limit: RateLimit = RateLimit()
    quiet_hours: QuietHours = QuietHours()
    bind_code_hours: float = 24
    page_size: int = 10
    conversation_timeout_minutes: float = 30     # a half-done 提交整改 / 退回 ends after this, and says so
    reconnect_base_seconds: float = 2.0          # `serve` retries the bot's start/polling after this, doubling …
    reconnect_max_seconds: float = 300.0         # … up to this, while the Bot API is down or refuses the token

    def token(self) -> str | None:
        """The bot token from the environment, or None (console notifier)."""
        return os.environ.get(self.token_env) or None


DINGTALK_URL = "https://api.dingtalk.com"
WECOM_URL = "https://qyapi.weixin.qq.com"
CHANNEL_ORDER = ("dingtalk", "wecom", "telegram", "webhook")


def _env(name: str | None) -> str | None:
    return (os.environ.get(name) or None) if name else None


@dataclass(frozen=True)
class DingTalkConfig:
    """An internal app's robot: 1:1 messages out through the open API, commands in through Stream mode."""
    enabled: bool = False
    base_url: str | None = None                    # None: https://api.dingtalk.com
    app_key_env: str = "GOVWATCH_DINGTALK_APP_KEY"
    app_secret_env: str = "GOVWATCH_DINGTALK_APP_SECRET"
    robot_code: str | None = None                  # the robot's code (usually the app key)
    stream: bool = True                            # receive commands and card actions (Stream mode)
    max_length: int = 5000                         # characters of one markdown message
    per_second: float = 20                         # sends per second, all users together
    timeout_seconds: float = 10

    @property
    def url(self) -> str:
        return (self.base_url or DINGTALK_URL).rstrip("/")

    def app_key(self) -> str | None:
        return _env(self.app_key_env)

    def app_secret(self) -> str | None:
        return _env(self.app_secret_env)


@dataclass(frozen=True)
class WeComConfig:
    """A WeCom / 政务微信 self-built app: markdown messages out."""
    enabled: bool = False
    base_url: str | None = None                    # None: https://qyapi.weixin.qq.com
    corp_id: str | None = None
    secret_env: str = "GOVWATCH_WECOM_SECRET"
    agent_id: int | None = None
    max_bytes: int = 4096                          # UTF-8 bytes of markdown.content
    per_second: float = 10
    timeout_seconds: float = 10

    @property
    def url(self) -> str:
        return (self.base_url or WECOM_URL).rstrip("/")

    def secret(self) -> str | None:
        return _env(self.secret_env)


@dataclass(frozen=True)
class WebhookConfig:
    """A signed JSON document per digest, POSTed to `url` (SMS gateways, other systems)."""
    enabled: bool = False
    url: str | None = None
    secret_env: str = "GOVWATCH_WEBHOOK_SECRET"
    link_base: str | None = None                   # e.g. https://govwatch.example/ → findings/68 links
    per_second: float = 20
    timeout_seconds: float = 10

    def secret(self) -> str | None:
        return _env(self.secret_env)


@dataclass(frozen=True)
class ChannelsConfig:
    order: tuple[str, ...] = CHANNEL_ORDER          # an officer gets a message on the first they have an id for
    dingtalk: DingTalkConfig = DingTalkConfig()
    wecom: WeComConfig = WeComConfig()
    webhook: WebhookConfig = WebhookConfig()
    retry_base_seconds: float = 30       # a failed send waits this long, doubling each time …
    retry_max_seconds: float = 3600      # … up to this; a channel's own Retry-After wins
    claim_timeout_seconds: float = 300   # a message claimed for sending longer ago is another worker's to send

    def enabled(self) -> list[str]:
        """The channels configured on, in order (Telegram is on when its token is in the environment)."""
        return [name for name in self.order if name != "telegram" and getattr(self, name).enabled]


@dataclass(frozen=True)
class JobConfig:
    enabled: bool = True
    time: str = "08:30"


@dataclass(frozen=True)
class ScheduleConfig:
    daily_scan: JobConfig = JobConfig(True, "08:30")
    weekly_dispatch: JobConfig = JobConfig(True, "16:00")
    monthly_bulletin: JobConfig = JobConfig(True, "09:00")
    quarterly_analysis: JobConfig = JobConfig(True, "09:30")
    annual_evaluation: JobConfig = JobConfig(True, "10:00")
    reminders: JobConfig = JobConfig(True, "09:00")
    deliver_interval_seconds: float = 5
    rules_watch_seconds: float = 10
    escalation_digest_time: str = "09:30"   # escalations reach a supervisor once a day, as one digest, at this time
    remind_before_working_days: int = 1
    escalate_parent_after_working_days: int = 3


@dataclass(frozen=True)
class ReportsConfig:
    out_dir: str = "reports"
    formats: tuple[str, ...] = ("html",)     # what scheduled reports write: html, pdf, xlsx
    # The GB/T 9704-style title block of a printed 通报 (发文机关、文号、落款); None = left out or derived.
    issuer: str | None = None                # 发文机关, e.g. "杭州市政务服务效能监管办公室"
    doc_number: str | None = None            # 文号 template: {year} {seq} (the period's number in its year)
    signature: str | None = None             # 落款 (default: the issuer)
    recipients: str | None = None            # 主送机关
    copy_to: str | None = None               # 抄送
    top_n: int = 20                          # rows of the top-N lists (overdue cases, open findings)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    file: str | None = None


# A deployment's province (as written in config.yaml) → the standard it enforces, by pack short name.
PROVINCES = {"zhejiang": "zhejiang", "浙江": "zhejiang", "浙江省": "zhejiang", "33": "zhejiang",
             "chongqing": "chongqing", "重庆": "chongqing", "重庆市": "chongqing", "50": "chongqing"}
PROVINCE_PACKS = {"zhejiang": "db33", "chongqing": "db50"}


@dataclass(frozen=True)
class Config:
    database: str = "govwatch.db"           # a SQLite file, or a postgresql:// URL
    database_password_env: str = "GOVWATCH_DB_PASSWORD"   # the env variable with a PostgreSQL password
    timezone: str = "Asia/Shanghai"
    rules_dir: str | None = None
    packs: tuple[str, ...] | None = None    # short names of the packs to enforce; None = the province's
    province: str | None = None             # zhejiang / chongqing (浙江 / 重庆, 33 / 50): its standard's pack
    calendar: CalendarConfig = CalendarConfig()
    ingest: IngestConfig = IngestConfig()
    findings: FindingsConfig = FindingsConfig()
    indicators: IndicatorsConfig = IndicatorsConfig()
    routing: RoutingConfig = RoutingConfig()
    telegram: TelegramConfig = TelegramConfig()
    channels: ChannelsConfig = ChannelsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    reports: ReportsConfig = ReportsConfig()
    logging: LoggingConfig = LoggingConfig()
    source: str | None = None  # the file it was read from, for messages

    @property
    def enforced_packs(self) -> tuple[str, ...] | None:
        """The packs to enforce: `packs` when set, else the deployment province's standard (DB33/T 2036.7
        for Zhejiang, DB50/T 957.7 for Chongqing), else every pack (None). Without either, the loaders
        infer the province from the store's org codes (checker.rules.choice.choose_packs)."""
        if self.packs is not None:
            return self.packs
        return (PROVINCE_PACKS[PROVINCES[self.province]],) if self.province else None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rules_path(self) -> Path:
        """The configured rules folder, or the packs shipped with govwatch."""
        if self.rules_dir:
            return Path(self.rules_dir)
        return Path(str(resources.files("govwatch_rules")))


def schema() -> dict[str, Any]:
    """The JSON Schema of config.yaml (owned by the code, shipped beside it)."""
    # Read beside this module: `checker` has no __init__.py (a namespace package), and
    # importlib.resources cannot list a namespace package that the editable install maps twice.
    found: dict[str, Any] = json.loads(Path(__file__).with_name("config_schema.json").read_text("utf-8"))
    return found


def load(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Read and validate a config file (None: defaults only); keyword overrides win (e.g. database=)."""
    data = _read(path) if path else {}
    _validate(data, path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    cfg = _build(Config, data)
    cfg = dataclasses.replace(cfg, source=str(path) if path else None)
    _check_timezone(cfg)
    _check_ingest(cfg)
    _check_channels(cfg)
    return cfg


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {path}: {exc.strerror}") from None
    try:
        data = yamlsafe.load(text)           # aliases bounded: a YAML bomb is refused, not expanded
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: 配置文件不是有效的 YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: 配置文件的顶层必须是键值映射")
    return data


def _validate(data: dict[str, Any], path: str | os.PathLike[str] | None) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e, path) for e in errors))


def _describe(error: jsonschema.ValidationError, path: str | os.PathLike[str] | None) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        key = ".".join([*(str(p) for p in error.absolute_path), *extra][:]) if extra else key
        return f"{path}: unknown key '{key}' (未知配置项)"
    return f"{path}: key '{key}': {error.message}"


def _check_timezone(cfg: Config) -> None:
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{cfg.source or 'config'}: key 'timezone': unknown timezone {cfg.timezone!r}") from None


def _check_ingest(cfg: Config) -> None:
    ing, where = cfg.ingest, cfg.source or "config"
    try:
        first, last = date.fromisoformat(ing.date_min), date.fromisoformat(ing.date_max)
    except ValueError as exc:
        raise ConfigError(f"{where}: key 'ingest': 不是有效的日期（{exc}）") from None
    if not (date(1900, 1, 1) <= first <= last <= date(2199, 12, 31)):
        raise ConfigError(f"{where}: key 'ingest': date_min 须不晚于 date_max，且都在 1900–2199 年之间")


REQUIRED_WHEN_ENABLED = {"dingtalk": ("robot_code",), "wecom": ("corp_id", "agent_id"), "webhook": ("url",)}


def _check_channels(cfg: Config) -> None:
    """An enabled channel names what it cannot work without (its secrets are checked when serving)."""
    problems = [f"{cfg.source or 'config'}: key 'channels.{name}.{key}': required when channels.{name}.enabled is true"
                for name, keys in REQUIRED_WHEN_ENABLED.items() if getattr(cfg.channels, name).enabled
                for key in keys if getattr(getattr(cfg.channels, name), key) in (None, "")]
    if problems:
        raise ConfigError("\n".join(problems))


def _build(cls: type[_D], data: dict[str, Any]) -> _D:
    """Construct a (nested) frozen dataclass from validated plain data."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:           # validated plain data → the hint's type
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is types.UnionType and value is not None:      # X | None
        return _convert(next(a for a in args if a is not type(None)), value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value or {})
    if origin is tuple:
        return tuple(_convert(args[0], v) for v in value or ())
    if origin is dict:
        return {k: _convert(args[1], v) for k, v in (value or {}).items()}
    return value
