"""The record contract of DESIGN.md: every importable kind, its fields, Chinese aliases and key.

This module is the single source of truth: the store's tables, the import validators and the
per-kind JSON Schemas are all derived from the declarations below.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KINDS: dict[str, "RecordKind"] = {}

# Field types: str, int, float, bool, datetime (ISO 8601, stored local with offset),
# date (YYYY-MM-DD), enum (one of `values`), choices (survey letters joined by ';').
FIELD_TYPES = ("str", "int", "float", "bool", "datetime", "date", "enum", "choices")


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "str"
    alias: tuple[str, ...] = ()
    required: bool = False
    values: tuple[str, ...] = ()        # for enum
    minimum: float | None = None
    maximum: float | None = None
    ref: str | None = None              # another kind whose key this field names
    sticky: bool = False                # a blank keeps the stored value; only CLEAR_WORDS clear it


@dataclass(frozen=True)
class RecordKind:
    name: str
    title: str                          # Chinese name, for messages
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    date_field: str | None = None       # the field a period filter uses

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def aliases(self) -> dict[str, str]:
        """Every accepted column header (English or Chinese) → field name."""
        out: dict[str, str] = {}
        for f in self.fields:
            out[f.name] = f.name
            for a in f.alias:
                out[a] = f.name
        return out


def kind(name: str, title: str, key: Iterable[str], fields: Iterable[Field], date_field: str | None = None) -> RecordKind:
    """Declare and register a record kind."""
    rk = RecordKind(name, title, tuple(key), tuple(fields), date_field)
    KINDS[name] = rk
    return rk


def F(name: str, type: str = "str", *alias: str, **kw: Any) -> Field:
    return Field(name, type, tuple(alias), **kw)


# Import bounds (DESIGN.md "Records"): a day count beyond ten years or a visit count beyond a
# thousand is a typo, and such a value must never reach the working-day arithmetic.
MAX_DAYS = 3650
MAX_VISITS = 1000
MAX_TEXT = 131_072                      # characters in one value (Python's csv field limit)
# What a sticky field (a messenger binding made through /bind) is cleared with, explicitly.
CLEAR_WORDS = ("clear", "解绑", "清除")

ORG_LEVELS = ("province", "city", "district", "township", "village", "department", "hall")
ROLES = ("officer", "supervisor", "admin")
CASE_STATUSES = ("accepted", "processing", "suspended", "closed", "rejected", "withdrawn")
OPEN_CASE_STATUSES = ("accepted", "processing", "suspended")

kind("orgs", "机构", ["code"], [
    F("code", "str", "机构编码", required=True),
    F("name", "str", "机构名称", required=True),
    F("parent", "str", "上级机构", "上级机构编码", ref="orgs"),
    F("level", "enum", "层级", "机构层级", required=True, values=ORG_LEVELS),
    F("commissions_third_party", "bool", "委托第三方", "委托第三方评价"),   # DB33/T 2036.7 §6.2.3 applies
])

kind("officers", "人员", ["id"], [
    F("id", "str", "工号", required=True),
    F("name", "str", "姓名", required=True),
    F("org", "str", "机构编码", "所属机构", required=True, ref="orgs"),
    F("role", "enum", "角色", required=True, values=ROLES),
    F("telegram_id", "int", "Telegram", "telegram", minimum=1, maximum=2**53, sticky=True),
    F("phone", "str", "电话", "手机"),
    F("dingtalk_userid", "str", "钉钉ID", "钉钉userid", "钉钉UserID", sticky=True),
    F("wecom_userid", "str", "企业微信ID", "企业微信userid", "政务微信ID", sticky=True),
])

kind("items", "事项", ["code"], [
    F("code", "str", "事项编码", required=True),
    F("name", "str", "事项名称", required=True),
    F("org", "str", "机构编码", "实施机构", required=True, ref="orgs"),
    F("type", "str", "事项类型"),
    F("in_scope", "bool", "纳入最多跑一次", "纳入\"最多跑一次\"", "纳入“最多跑一次”"),
    F("one_visit", "bool", "实现最多跑一次", "实现\"最多跑一次\"", "实现“最多跑一次”"),
    F("comprehensive_window", "bool", "综合窗口受理"),
    F("centralized", "bool", "进驻大厅集中受理"),
    F("immediate", "bool", "即办件"),
    F("statutory_days", "int", "法定时限", minimum=0, maximum=MAX_DAYS),
    F("promised_days", "int", "承诺时限", minimum=0, maximum=MAX_DAYS),
    F("online_depth", "int", "网办深度", minimum=1, maximum=4),
    F("visits", "int", "到现场次数", minimum=0, maximum=MAX_VISITS),
])

kind("cases", "办件", ["case_no"], [
    F("case_no", "str", "办件编号", required=True),
    F("item_code", "str", "事项编码", required=True, ref="items"),
    F("org", "str", "机构编码", "受理机构", required=True, ref="orgs"),
    F("hall", "str", "大厅", "服务大厅"),
    F("channel", "enum", "渠道", "受理渠道", required=True, values=("online", "window")),
    F("accepted_at", "datetime", "受理时间", required=True),
    F("promised_at", "datetime", "承诺办结时间"),
    F("closed_at", "datetime", "办结时间"),
    F("status", "enum", "状态", "办件状态", required=True, values=CASE_STATUSES),
    F("suspended_days", "int", "特别程序天数", "暂停天数", minimum=0, maximum=MAX_DAYS),
    F("extended_days", "int", "延期天数", minimum=0, maximum=MAX_DAYS),
    F("handler", "str", "经办人", "承办人", ref="officers"),
    F("visits", "int", "跑动次数", minimum=0, maximum=MAX_VISITS),
], date_field="accepted_at")

kind("complaints", "投诉", ["id"], [
    F("id", "str", "投诉编号", required=True),
    F("org", "str", "机构编码", "被投诉机构", required=True, ref="orgs"),
    F("received_at", "datetime", "接收时间", "投诉时间", required=True),
    F("valid", "bool", "有效投诉", required=True),
    F("rectified_at", "datetime", "整改时间", "整改完成时间"),
    F("case_no", "str", "办件编号"),
], date_field="received_at")

kind("evaluations", "评价", ["id"], [
    F("id", "str", "评价编号", required=True),
    F("case_no", "str", "办件编号"),
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("channel", "enum", "评价渠道", required=True, values=("window", "pad", "sms", "online", "phone")),
    F("level", "int", "评价等级", "满意度", required=True, minimum=1, maximum=5),
    F("evaluated_at", "datetime", "评价时间", required=True),
    F("callback_at", "datetime", "回访时间"),
    F("rectified_at", "datetime", "整改时间"),
    F("comment", "str", "评价内容", "差评原因"),
], date_field="evaluated_at")

kind("consultations", "咨询", ["id"], [
    F("id", "str", "咨询编号", required=True),
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("channel", "enum", "咨询渠道", required=True, values=("hotline", "online", "onsite", "letter")),
    F("received_at", "datetime", "咨询时间", "接收时间", required=True),
    F("answered_at", "datetime", "答复时间"),
    F("promised_at", "datetime", "承诺答复时间"),
], date_field="received_at")

kind("appointments", "预约", ["id"], [
    F("id", "str", "预约编号", required=True),
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("item_code", "str", "事项编码", ref="items"),
    F("slot_at", "datetime", "预约时间", "预约时段", required=True),
    F("reminded_at", "datetime", "提醒时间"),
    F("status", "enum", "状态", "预约状态", required=True,
      values=("booked", "reminded", "attended", "missed", "cancelled")),
], date_field="slot_at")

kind("inspections", "现场检查", ["id"], [
    F("id", "str", "检查编号", required=True),
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("date", "date", "检查日期", required=True),
    F("check", "str", "检查项", required=True),
    F("result", "enum", "检查结果", "结果", required=True, values=("pass", "fail", "na")),
    F("note", "str", "备注", "说明"),
], date_field="date")

kind("supervisions", "监督评价活动", ["id"], [
    F("id", "str", "活动编号", required=True),
    F("org", "str", "机构编码", "被评价机构", required=True, ref="orgs"),
    F("kind", "enum", "评价方式", "方式", required=True, values=("self", "superior", "public", "third_party")),
    F("date", "date", "日期", "评价日期", required=True),
    F("summary", "str", "摘要", "内容"),
], date_field="date")

kind("surveys", "问卷", ["id"], [
    F("id", "str", "问卷编号", required=True),
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("channel", "enum", "调查方式", "渠道", required=True, values=("onsite", "online", "phone")),
    F("date", "date", "日期", "调查日期", required=True),
    *[F(f"a{i}", "choices") for i in range(1, 10)],
    F("a10", "str"),                    # open question: what to improve
    *[F(f"b{i}", "choices") for i in range(1, 10)],
], date_field="date")

# 政务公开 (DB50/T 957.7 §2.2, §3.1.2 c, §3.3): one row a piece of government information to publish
# (主动公开, formed_at = when it was formed or changed) or a request to answer (依申请公开, formed_at =
# when the request was received); published_at = when it was published or answered.
kind("disclosures", "政务公开", ["id"], [
    F("id", "str", "公开编号", "编号", required=True),
    F("org", "str", "机构编码", "公开机构", required=True, ref="orgs"),
    # `title` in a file is accepted (an alias): the field is named apart from a rule's {title}.
    F("info_title", "str", "title", "标题", "信息名称", required=True),
    F("category", "enum", "公开类别", "类别", required=True, values=("proactive", "request")),
    F("formed_at", "datetime", "形成时间", "申请时间", "形成或变更时间", required=True),
    F("published_at", "datetime", "公开时间", "答复时间"),
    F("extended", "bool", "延期答复", "是否延期"),
], date_field="formed_at")

kind("metrics", "外部指标", ["org", "period", "metric"], [
    F("org", "str", "机构编码", required=True, ref="orgs"),
    F("period", "str", "期间", "统计期", required=True),
    F("metric", "str", "指标", "指标名称", required=True),
    F("value", "float", "值", "数值", required=True),
])
