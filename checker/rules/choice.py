"""Which rule packs a deployment enforces.

`packs` in config.yaml wins; else `province` (zhejiang → DB33/T 2036.7, chongqing → DB50/T 957.7);
else the province the org codes in the store show: org codes are GB/T 2260 administrative division
codes, whose first two digits are the province (33 浙江, 50 重庆). When the orgs are of several
provinces, of another province, or there are none yet, every pack is enforced and `warning` says so
and what to set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..config import PROVINCE_PACKS, Config

PROVINCE_NAMES = {"zhejiang": "浙江", "chongqing": "重庆"}
PREFIXES = {"33": "zhejiang", "50": "chongqing"}       # GB/T 2260: the code's first two digits
SET_IT = "请在 config.yaml 设置 province: zhejiang（浙江，DB33/T 2036.7）或 province: chongqing（重庆，DB50/T 957.7），或用 packs 指定"


class ChoiceRepo(Protocol):
    """What choosing the packs reads from the store: the org codes' first two digits."""
    def org_code_prefixes(self) -> list[str]: ...


@dataclass(frozen=True)
class PackChoice:
    packs: tuple[str, ...] | None        # short names; None = every pack
    reason: str                          # why, in Chinese (the demo and the warnings say it)
    warning: str | None = None           # every pack enforced for want of a province: what to set


def choose_packs(cfg: Config, store: ChoiceRepo | None = None) -> PackChoice:
    """The packs to enforce and why (store=None: no inference, every pack without a warning line)."""
    if cfg.packs is not None:
        return PackChoice(cfg.packs, f"按配置 packs（{'、'.join(cfg.packs)}）选择")
    if cfg.province:
        return PackChoice(cfg.enforced_packs, f"按配置 province（{cfg.province}）选择")
    if store is None:
        return PackChoice(None, "未配置 province 或 packs：执行全部规则包")
    prefixes = org_provinces(store)
    known = {PREFIXES.get(p) for p in prefixes}
    province = known.pop() if len(known) == 1 else None
    if province is not None:
        prefix = next(iter(prefixes))
        return PackChoice((PROVINCE_PACKS[province],),
                          f"未配置 province：机构编码均以 {prefix} 开头（GB/T 2260，{PROVINCE_NAMES[province]}），"
                          f"执行本省标准")
    if not prefixes:
        why = "库中尚无按行政区划代码（GB/T 2260）编码的机构，无法推断所在省份"
    else:
        shown = "、".join(f"{p}（{PROVINCE_NAMES.get(PREFIXES.get(p, ''), '其他省份')}）" for p in sorted(prefixes))
        why = f"机构编码分属 {shown}，无法确定所在省份" if len(prefixes) > 1 else \
            f"机构编码属 {shown}，没有该省的规则包"
    return PackChoice(None, f"未配置 province：{why}，执行全部规则包",
                      f"警告：未配置 province 或 packs，{why}，因此执行全部规则包（同一问题可能按两个标准各报一次）。{SET_IT}。")


def org_provinces(store: ChoiceRepo) -> set[str]:
    """The province prefixes (first two digits) of the org codes in the store."""
    return {str(p) for p in store.org_code_prefixes() if p and str(p).isdigit()}
