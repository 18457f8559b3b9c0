"""Survey tabulation (DB33/T 2036.7 §5.3.2.1): the questionnaire of Appendix A (a1–a10) and the
phone survey of Appendix B (b1–b9), one `surveys` record a response, choices as letters joined by ';'.

Distributions count respondents per option (a multiple-choice question's shares may sum past 100%).
Satisfaction rates use the same reading as P9 (config indicators.p9_satisfied_level, one key for
both): a 4-option rating's answers A–D stand for levels 5–2 of the 5-level 好差评 scale (A 非常满意 /
满意 = 5, B 满意 / 比较满意 = 4, C 一般 = 3 基本满意, D 不满意 = 2), and an answer is satisfied when its
level is at least the setting. Default 3: A–C (only 不满意 is 差评, as in the national 好差评 grading);
4: A+B (非常满意+满意 / 满意+比较满意).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..periods import Period

Response = dict[str, Any]          # one survey response row (question code → answer)


class SurveyRepo(Protocol):
    """What tabulating the surveys reads: the responses, the org tree under the scope."""
    def survey_rows(self, org: str | None, start: str, end: str) -> list[dict[str, Any]]: ...
    def child_orgs(self, org: str | None) -> list[dict[str, Any]]: ...
    def org_subtree(self, code: str) -> list[str]: ...

CLAUSE = "DB33/T 2036.7 §5.3.2.1"
DEFAULT_SATISFIED_LEVEL = 3
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
QUESTIONS: dict[str, "Question"] = {}
RATING_B = ("满意", "比较满意", "一般", "不满意")
TRIPS = ("零上门（通过网上办理）", "一趟", "两趟", "三趟以上")
REASONS_MANY_TRIPS = ("事先没有查询到办事流程和所需材料，或查询到的相关信息不准确", "审批环节太多，需要跑多次",
                      "现场等候时间太长，放弃此次等待办理", "因个人原因材料没有带齐或不合规", "窗口工作人员业务不熟悉",
                      "没有选择快递送达服务，自愿再跑一次来取证", "其他原因")
AWARENESS = ("知道", "听说过，但不太清楚", "不知道")
EASIER = ("是", "不是")


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    multiple: bool
    options: tuple[str, ...]        # option texts, A, B, C …; () for an open question
    satisfaction: bool = False       # an A–D rating whose satisfied share is a satisfaction rate
    appendix: str = "A"

    def option_text(self, letter: str) -> str:
        i = ord(letter) - ord("A")
        return self.options[i] if 0 <= i < len(self.options) else f"选项{letter}"


def question(code: str, text: str, multiple: bool = False, options: Iterable[str] = (), satisfaction: bool = False,
             appendix: str = "A") -> Question:
    """Declare and register a survey question."""
    q = Question(code, text, multiple, tuple(options), satisfaction, appendix)
    QUESTIONS[code] = q
    return q


question("a1", "您听说过“最多跑一次”改革吗？", options=AWARENESS)
question("a2", "您觉得“最多跑一次”改革实施后（现在）到政府办事是否比以前方便？", options=EASIER)
question("a3", "您觉得办事比以前方便的是？", True, (
    "办事不用跑多个窗口（部门）", "审批事项减少", "办事流程简化", "申请材料减少",
    "办事指南简单易懂", "通过网上申请、办理", "办理时间缩短", "其他"))
question("a4", "您近期在行政服务中心办理过哪类事项？", options=(
    "医保、社保等人力社保事项", "不动产登记", "户籍、出入境等公安事项",
    "企业设立、变更等商事事项", "企业投资项目审批事项", "其他事项"))
question("a5", "请您对本次办事过程进行评价？", options=("非常满意", "满意", "一般", "不满意"), satisfaction=True)
question("a6", "请您对窗口工作人员工作态度、服务水平等进行评价？",
         options=("非常满意", "满意", "一般", "不满意"), satisfaction=True)
question("a7", "您不满意的主要原因是？", True, (
    "没有实现我心目中的“一件事”跑一次", "申请材料繁多", "办一件事要跑多个部门（窗口）或多个环节办理",
    "多部门重复递交材料", "办事流程复杂", "事先了解不到办事流程或者了解到的不准确", "审批周期太长",
    "证照无法联办", "网上不见面审批实现度不够", "窗口工作人员业务不熟悉", "中介机构收费高、服务效率低", "其他"))
question("a8", "您办理的事项跑了几趟办好的？", options=TRIPS)
question("a9", "您没办好或跑了多趟才办好的原因是？", True, REASONS_MANY_TRIPS)
question("a10", "与您心目中的“最多跑一次”改革相比，您最期待改进的是哪些方面？")
question("b1", "请问您是否最近办理过××事项？（××为回访的事项名称，附录 B 原文作“**事项”）", options=("是", "否"),
         appendix="B")
question("b2", "请问您对本次办事的过程是否满意？", options=RATING_B, satisfaction=True, appendix="B")
question("b3", "请问您对窗口工作人员工作态度、服务水平等是否满意？", options=RATING_B, satisfaction=True,
         appendix="B")
question("b4", "您办理的事项跑了几趟办好的？", options=TRIPS, appendix="B")
question("b5", "您没办好或跑了多趟才办好的原因是什么？", True, REASONS_MANY_TRIPS, appendix="B")
question("b6", "请您对到政府办事需要提交的证明材料（有无模糊性、兜底性条款）情况进行评价？",
         options=RATING_B, satisfaction=True, appendix="B")
question("b7", "您听说过“最多跑一次”改革吗？", options=AWARENESS, appendix="B")
question("b8", "您觉得“最多跑一次”改革实施后（现在）到政府办事是否比以前方便？", options=EASIER, appendix="B")
# Appendix B leaves b9 open; as a choice question it takes Appendix A question 3's list of what
# makes 办事 easier (A–H), the only list of the questionnaire that names areas to improve.
question("b9", "您最期待改进的是哪些方面？（选项沿用附录 A 第 3 题）", True, (
    "办事不用跑多个窗口（部门）", "审批事项减少", "办事流程简化", "申请材料减少",
    "办事指南简单易懂", "通过网上申请、办理", "办理时间缩短", "其他"), appendix="B")


@dataclass(frozen=True)
class Distribution:
    question: Question
    answered: int                          # responses that answered the question
    counts: tuple[tuple[str, str, int], ...]   # (letter, option text, respondents choosing it)

    def share(self, letter: str) -> float | None:
        n = next((c for l, _, c in self.counts if l == letter), 0)
        return n / self.answered if self.answered else None


@dataclass(frozen=True)
class Rate:
    question: str
    satisfied: int          # answers at the satisfied level or above (default A–C)
    answered: int

    @property
    def value(self) -> float | None:
        return self.satisfied / self.answered if self.answered else None


@dataclass(frozen=True)
class SurveyTable:
    period: Period
    org: str | None
    responses: int
    by_channel: tuple[tuple[str, int], ...]
    distributions: tuple[Distribution, ...]
    rates: tuple[Rate, ...]                               # overall, per satisfaction question
    rates_by_org: tuple[tuple[str, tuple[Rate, ...]], ...]
    rates_by_channel: tuple[tuple[str, tuple[Rate, ...]], ...]
    open_answers: tuple[str, ...]                         # a10 texts
    satisfied_level: int = DEFAULT_SATISFIED_LEVEL

    @property
    def reading(self) -> str:
        return reading(self.satisfied_level)

    def rate(self, code: str) -> Rate | None:
        return next((r for r in self.rates if r.question == code), None)


def letters(answer: object) -> list[str]:
    """'A;C' → ['A', 'C'] (also ',', '；', '，', spaces); upper-cased, each letter once."""
    if answer is None:
        return []
    text = str(answer).upper()
    for sep in ("；", "，", ",", " ", "、"):
        text = text.replace(sep, ";")
    out: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


def distribution(q: Question, responses: list[Response]) -> Distribution:
    """Respondents per option; a single-choice question keeps only the first letter of an answer."""
    counter: Counter[str] = Counter()
    answered = 0
    for r in responses:
        picked = letters(r.get(q.code))
        if not q.multiple:
            picked = picked[:1]
        if picked:
            answered += 1
            counter.update(picked)
    keys = [chr(ord("A") + i) for i in range(len(q.options))]
    keys += sorted(k for k in counter if k not in keys)
    return Distribution(q, answered, tuple((k, q.option_text(k), counter.get(k, 0)) for k in keys))


def satisfied_letters(level: int = DEFAULT_SATISFIED_LEVEL) -> tuple[str, ...]:
    """The answers of a 4-option rating that count as satisfied: A–D stand for levels 5–2."""
    return tuple(letter for i, letter in enumerate("ABCD") if 5 - i >= level)


def reading(level: int = DEFAULT_SATISFIED_LEVEL) -> str:
    """The satisfied reading in words, for reports: which levels and which survey answers count."""
    letters_ = satisfied_letters(level)
    answers = f"{letters_[0]}–{letters_[-1]}" if len(letters_) > 1 else (letters_[0] if letters_ else "无")
    why = "；依全国政务服务“好差评”分级，仅“不满意”“非常不满意”为差评" if level == 3 else ""
    return (f"满意口径：评价等级 ≥ {level}（{LEVEL_NAMES.get(level, level)}及以上）计为满意{why}；问卷四档评分计 {answers} 项"
            f"（配置 indicators.p9_satisfied_level = {level}，P9 与问卷统计共用）。")


def satisfaction(code: str, responses: list[Response], level: int = DEFAULT_SATISFIED_LEVEL) -> Rate:
    """The satisfied share of the answered responses to a rating question (a5, a6, b2, b3, b6)."""
    picked = [letters(r.get(code))[:1] for r in responses]
    answered = [p[0] for p in picked if p]
    counted = satisfied_letters(level)
    return Rate(code, sum(1 for a in answered if a in counted), len(answered))


def rates(responses: list[Response], level: int = DEFAULT_SATISFIED_LEVEL) -> tuple[Rate, ...]:
    return tuple(satisfaction(q.code, responses, level) for q in QUESTIONS.values() if q.satisfaction)


def tabulate(store: SurveyRepo, period: Period, org: str | None = None,
             satisfied_level: int = DEFAULT_SATISFIED_LEVEL) -> SurveyTable:
    """Tabulate the survey responses dated in the period, for an org's subtree (None: all orgs)."""
    rows = store.survey_rows(org, period.start.isoformat(), period.end.isoformat())
    return SurveyTable(
        period, org, len(rows),
        tuple(sorted(Counter(r["channel"] for r in rows).items())),
        tuple(distribution(q, rows) for q in QUESTIONS.values() if q.options or q.multiple),
        rates(rows, satisfied_level),
        _grouped(rows, _top_org(store, org), satisfied_level),
        tuple((ch, rates(rs, satisfied_level)) for ch, rs in _group_by(rows, lambda r: r["channel"]).items()),
        tuple(r["a10"] for r in rows if (r.get("a10") or "").strip()),
        satisfied_level,
    )


def _top_org(store: SurveyRepo, org: str | None) -> dict[str, str]:
    """Map each org to the child of the scope org (or top-level org) it sits under, for by-org rates."""
    children = [c["code"] for c in store.child_orgs(org)]
    owner: dict[str, str] = {}
    for child in children:
        for code in store.org_subtree(child):
            owner.setdefault(code, child)
    return owner


def _grouped(rows: list[Response], owner: dict[str, str], level: int) -> tuple[tuple[str, tuple[Rate, ...]], ...]:
    groups = _group_by(rows, lambda r: owner.get(r["org"], r["org"]))
    return tuple((o, rates(rs, level)) for o, rs in sorted(groups.items()))


def _group_by(rows: list[Response], key: Callable[[Response], Any]) -> dict[Any, list[Response]]:
    out: dict[Any, list[Response]] = {}       # keyed by a row's value (org, channel)
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out
