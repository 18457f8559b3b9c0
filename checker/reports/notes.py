"""The readings a report used where the standards leave a choice open (shown as the report's 口径说明)."""
from __future__ import annotations

from ..config import Config
from ..evaluate import surveys
from ..rules.model import RuleBook

P7_READINGS = {
    "full_process": "P7 网上办结率：N7 按“全流程事项通过网上办理量”计，即网办深度 ≥ {depth} 的事项经网上办理的办件"
                    "（DB33/T 2036.7 §5.2.1.7；配置 indicators.p7_reading = full_process）。",
    "any_online": "P7 网上办结率：按较宽口径，计所有网上办理的办件，不区分事项网办深度"
                  "（配置 indicators.p7_reading = any_online；标准 N7 为“全流程事项通过网上办理量”）。",
}


def readings(cfg: Config, rulebook: RuleBook | None) -> tuple[str, ...]:
    ic = cfg.indicators
    out = [surveys.reading(ic.p9_satisfied_level),
           P7_READINGS[ic.p7_reading].format(depth=ic.p7_full_process_depth)]
    out += _policies(rulebook)
    out.append("监督评价周期按自然周期计：“每季度不少于一次”指每个自然季度至少一次，季度结束仍无记录即为问题，"
               "季度最后若干个工作日仍无记录给出预警（DB33/T 2036.7 §6.2、DB50/T 957.7 §6.4 c)）。")
    return tuple(out)


def _policies(rulebook: RuleBook | None) -> list[str]:
    """The time limits that are this deployment's policy (rule params), not the standard's."""
    if rulebook is None:
        return []
    limits = []
    for rule in rulebook.of_kind("record"):
        if rule.record != "evaluations":
            continue
        for key, what in (("callback_days", "差评电话回访"), ("rectify_days", "差评整改")):
            if key in rule.params:
                limits.append(f"{what} {rule.params[key]} 个工作日（{rule.citation}）")
    if not limits:
        return []
    return ["以下时限为本部署的规定（规则参数，可由管理员修改），标准条文未规定具体时限：" + "；".join(limits) + "。"]
