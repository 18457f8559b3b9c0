"""A realistic, deterministic sample data set for every record kind (CSV, UTF-8).

A fictionalised 杭州市 with five districts, their townships, halls (level hall) and departments;
officers of every role; a few hundred items; N cases over the six months before `now` with a
realistic mix of outcomes; and complaints, evaluations, consultations, appointments, inspections,
supervisions, surveys, 政务公开 (disclosures) and metrics. Rows are streamed to the files, so memory stays flat for a
million cases. Same seed and `now` → byte-identical files.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import csv
import random
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ..calendar import WorkCalendar
from ..ingest.records import KINDS

WINDOW_DAYS = 182
CHECKS = (
    "facility.consult_desk", "facility.comprehensive_window", "facility.backoffice", "facility.waiting_area",
    "facility.self_service_area", "equipment.queue_system", "equipment.window_display",
    "equipment.order_display", "equipment.evaluator", "equipment.scanner", "equipment.printer",
    "equipment.id_reader", "equipment.pc", "equipment.touch_terminal", "equipment.self_service_terminal",
    "service.same_day_acceptance", "service.dress_code", "service.proxy_service", "service.not_once_window",
    "service.no_shared_data_demanded", "service.guide_published", "consult.hotline_available",
    "consult.reception_records", "consult.one_time_notice", "online.unified_entry", "online.unified_payment",
    "online.progress_query", "online.data_sharing_stats", "online.public_interaction",
    "video.connected", "video.ledger", "onsite.daily_supervision",
)
DAILY_CHECK = "onsite.daily_supervision"
DISTRICTS = (
    ("330102", "上城区", ("湖滨街道", "清波街道", "小营街道")),
    ("330105", "拱墅区", ("米市巷街道", "湖墅街道", "小河街道")),
    ("330106", "西湖区", ("北山街道", "西溪街道", "翠苑街道")),
    ("330108", "滨江区", ("西兴街道", "长河街道", "浦沿街道")),
    ("330109", "萧山区", ("城厢街道", "北干街道", "蜀山街道")),
)
DEPARTMENTS = {   # key: (name, items)
    "scjg": ("市场监督管理局", ("食品经营许可证核发", "个体工商户设立登记", "企业设立登记", "企业变更登记",
                               "企业注销登记", "小餐饮登记证核发", "药品零售企业经营许可", "医疗器械经营备案",
                               "特种设备使用登记", "食品生产许可", "营业执照遗失补领")),
    "rlsb": ("人力资源和社会保障局", ("失业保险金申领", "社会保障卡申领", "就业创业证申领", "职工退休核准",
                                     "灵活就业人员参保登记", "城乡居民养老保险参保登记", "工伤认定",
                                     "劳动能力鉴定申请", "医保关系转移接续", "生育津贴申领", "企业职工参保登记")),
    "ga": ("公安分局", ("居住证申领", "户口迁移登记", "居民身份证换领", "居民身份证挂失补领", "出入境证件办理",
                       "机动车登记", "驾驶证换证", "无犯罪记录证明开具", "犬类登记", "户籍证明开具", "新生儿入户")),
    "wj": ("卫生健康局", ("医师执业注册", "护士执业注册", "出生医学证明办理", "医疗机构执业登记",
                         "公共场所卫生许可", "母婴保健技术服务执业许可", "放射诊疗许可", "生育登记")),
    "zj": ("住房和城乡建设局", ("建筑工程施工许可证核发", "商品房预售许可", "房屋租赁登记备案", "物业服务企业备案",
                               "建设工程竣工验收备案", "城市建筑垃圾处置核准", "燃气经营许可", "人防工程审批")),
    "zrzy": ("规划和自然资源局", ("不动产登记", "建设用地规划许可", "建设工程规划许可", "乡村建设规划许可",
                                 "不动产登记资料查询", "土地使用权出让")),
}
DISTRICT_DEPTS = ("scjg", "rlsb", "ga", "wj")
CITY_DEPTS = ("scjg", "zj", "zrzy")
TOWNSHIP_ITEMS = ("城乡居民医保参保登记", "老年优待证办理", "残疾人证申领", "最低生活保障申请", "临时救助申请",
                  "高龄津贴申领", "计划生育家庭奖励扶助", "居住证明开具")
ITEM_TYPES = (("行政许可", 40), ("公共服务", 35), ("行政确认", 15), ("其他行政权力", 10))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬婷斌浩宇欣怡晨佳俊杭越"
BAD_COMMENTS = ("等候时间太长", "工作人员态度不好", "材料要求反复变化，跑了两次", "窗口人员业务不熟悉",
                "系统故障无法办理", "一次性告知不清楚", "办理时间超过承诺时限")
DISCLOSURE_TITLES = ("政务服务事项办事指南调整公告", "行政许可事项目录更新", "年度政府信息公开工作报告",
                     "惠企政策兑现事项清单", "收费项目目录公示", "“最多跑一次”事项清单调整",
                     "证明事项取消清单", "随机抽查事项清单", "行政处罚结果公示", "政策解读")
REQUEST_TITLES = ("关于某地块规划许可信息的公开申请", "关于企业登记档案的公开申请", "关于补贴发放名单的公开申请",
                  "关于行政许可办理依据的公开申请", "关于财政预算执行情况的公开申请")
METRICS = (("guide_accuracy", 0.85, 1.0), ("user_usage_personal", 0.3, 0.8), ("user_usage_enterprise", 0.4, 0.9),
           ("e_license_usage", 0.5, 0.95), ("channels", 3, 6))


@dataclass(frozen=True)
class Org:
    code: str
    name: str
    parent: str | None
    level: str
    hall: str | None = None           # the hall where the org's cases are accepted
    online_rate: float = 0.5
    immediate_rate: float = 0.8
    window_rate: float = 0.9
    late_rate: float = 0.02
    satisfaction: float = 0.0         # shift towards 差评 (0 good … 1 bad)


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    org: str
    type: str
    in_scope: bool
    one_visit: bool
    comprehensive_window: bool
    centralized: bool
    immediate: bool
    statutory_days: int
    promised_days: int
    online_depth: int
    visits: int
    weight: float


@dataclass(frozen=True)
class Officer:
    id: str
    name: str
    org: str
    role: str
    telegram_id: int | None
    phone: str


@dataclass
class City:
    orgs: list[Org] = field(default_factory=list)
    officers: list[Officer] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def staff(self, org: str) -> list[str]:
        return [o.id for o in self.officers if o.org == org and o.role == "officer"]

    def org(self, code: str) -> Org:
        return next(o for o in self.orgs if o.code == code)

    def halls(self) -> list[Org]:
        return [o for o in self.orgs if o.level == "hall"]


def write_sample(out: str | Path, now: datetime, cases: int = 20000, seed: int = 1, tz: ZoneInfo | None = None) -> dict[str, int]:
    """Write `<kind>.csv` for every record kind into `out`; return the row count per kind."""
    tz = tz or ZoneInfo("Asia/Shanghai")
    gen = _Generator(seed, now.astimezone(tz).replace(tzinfo=None), WorkCalendar(tz=tz))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        writers = {k: _Writer(stack, folder, k) for k in KINDS}
        gen.write(writers, cases)
        return {k: w.count for k, w in writers.items()}


class _Writer:
    def __init__(self, stack: ExitStack, folder: Path, kind: str):
        f = stack.enter_context(open(folder / f"{kind}.csv", "w", encoding="utf-8", newline=""))
        self.columns = KINDS[kind].columns
        self.csv = csv.writer(f, lineterminator="\n")
        self.csv.writerow(self.columns)
        self.count = 0

    def row(self, **values: Any) -> None:
        get = values.get
        self.csv.writerow([_text(get(c)) for c in self.columns])
        self.count += 1


def _text(v: Any) -> str:            # a record's value: text, a number, a date or time, a bool, None
    kind = type(v)                    # exact types first: a row has ~15 values, 10M rows a run
    if kind is str:
        return str(v)                 # the same object
    if v is None:
        return ""
    if kind is datetime and v.tzinfo is None and not v.microsecond:
        text: str = v.isoformat(" ")  # the same text as strftime("%Y-%m-%d %H:%M:%S"), 4x faster
        return text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


class _Generator:
    """Everything drawn from random streams named by seed and purpose, so each file is stable."""

    def __init__(self, seed: int, now: datetime, cal: WorkCalendar):
        self.seed, self.now, self.cal = seed, now, cal
        self.start = now - timedelta(days=WINDOW_DAYS)
        self.workdays = [d for d in _days(self.start.date(), now.date()) if cal.is_working_day(d)]
        self.city = City()
        self._deadlines: dict[tuple[date, int, int, int, bool], datetime] = {}

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{purpose}")

    def write(self, w: dict[str, _Writer], cases: int) -> None:
        self.build_city()
        for o in self.city.orgs:
            third = o.level == "city" or (o.level == "district" and int(o.code[-1]) % 2 == 0)   # 委托第三方 (§6.2.3)
            w["orgs"].row(code=o.code, name=o.name, parent=o.parent, level=o.level,
                          commissions_third_party=third if o.level in ("city", "district") else None)
        for p in self.city.officers:
            w["officers"].row(**p.__dict__)
        for i in self.city.items:
            w["items"].row(**{k: v for k, v in i.__dict__.items() if k != "weight"})
        self.write_cases(w, cases)
        self.write_consultations(w["consultations"], max(40, cases // 8))
        self.write_appointments(w["appointments"], max(30, cases // 15))
        self.write_inspections(w["inspections"])
        self.write_supervisions(w["supervisions"])
        self.write_surveys(w["surveys"], max(40, cases // 100))
        self.write_disclosures(w["disclosures"])
        self.write_metrics(w["metrics"])

    # --- the city ---------------------------------------------------------------------------

    def build_city(self) -> None:
        r = self.rng("city")
        self._add_org(r, "330100", "杭州市", None, "city")
        self._add_org(r, "330100H", "杭州市民之家", "330100", "hall")
        for key in CITY_DEPTS:
            self._add_org(r, f"330100{key.upper()}", f"杭州市{DEPARTMENTS[key][0]}", "330100", "department", "330100H")
        for code, name, townships in DISTRICTS:
            self._add_district(r, code, name, townships)
        self._add_officers(self.rng("officers"))
        self._add_items(self.rng("items"))

    def _add_org(self, r: random.Random, code: str, name: str, parent: str | None, level: str,
                 hall: str | None = None) -> None:
        self.city.orgs.append(Org(
            code, name, parent, level, hall, online_rate=r.uniform(0.4, 0.6), immediate_rate=r.uniform(0.6, 0.97),
            window_rate=r.uniform(0.85, 0.95), late_rate=r.choice((0.005, 0.01, 0.02, 0.05)),
            satisfaction=r.choice((0.0, 0.0, 0.0, 0.5, 1.0))))

    def _add_district(self, r: random.Random, code: str, name: str, townships: Sequence[str]) -> None:
        hall = f"{code}H"
        self._add_org(r, code, name, "330100", "district")
        self._add_org(r, hall, f"{name}行政服务中心", code, "hall")
        for key in DISTRICT_DEPTS:
            self._add_org(r, f"{code}{key.upper()}", f"{name}{DEPARTMENTS[key][0]}", code, "department", hall)
        for n, town in enumerate(townships, start=1):
            tcode = f"{code}{n:03d}"
            self._add_org(r, tcode, town, code, "township", f"{tcode}H")
            self._add_org(r, f"{tcode}H", f"{town}便民服务中心", tcode, "hall")

    def _add_officers(self, r: random.Random) -> None:
        def add(org: str, role: str) -> None:
            oid = f"E{len(self.city.officers) + 1:04d}"
            tg = 100000000 + r.randrange(900000000) if r.random() < 0.4 else None
            name = r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2))))
            self.city.officers.append(Officer(oid, name, org, role, tg, f"1{r.choice('3578')}{r.randrange(10**9):09d}"))
        add("330100", "admin")
        for o in list(self.city.orgs):
            staff = {"hall": r.randint(3, 6), "department": 2, "township": 1}.get(o.level, 0)
            for _ in range(staff):
                add(o.code, "officer")
            if o.level in ("city", "district"):
                add(o.code, "supervisor")

    def _add_items(self, r: random.Random) -> None:
        for o in self.city.orgs:
            if o.level == "department":
                names = DEPARTMENTS[o.code.removeprefix(o.parent or "").lower()][1]
            elif o.level == "township":
                names = TOWNSHIP_ITEMS
            else:
                continue
            for n, name in enumerate(names, start=1):
                self.city.items.append(self._item(r, o, f"{o.code}-{n:03d}", name))

    def _item(self, r: random.Random, o: Org, code: str, name: str) -> Item:
        immediate = r.random() < o.immediate_rate
        one_visit = r.random() < 0.97
        kind = r.choices([t for t, _ in ITEM_TYPES], [w for _, w in ITEM_TYPES])[0]
        promised = 1 if immediate else r.choice((5, 5, 7, 7, 10, 10, 3, 1))
        depth = r.choices((1, 2, 3, 4), (5, 15, 40, 40))[0]
        return Item(code, name, o.code, kind, r.random() < 0.95, one_visit, r.random() < o.window_rate,
                    r.random() < 0.98, immediate, 20, promised, depth,
                    (0 if depth == 4 else 1) if one_visit else 2, r.lognormvariate(0, 1))

    # --- cases and what follows from them ------------------------------------------------------

    def write_cases(self, w: dict[str, _Writer], n: int) -> None:
        r, items = self.rng("cases"), self.city.items
        cum, total = [], 0.0
        for it in items:
            total += it.weight
            cum.append(total)
        orgs = {o.code: o for o in self.city.orgs}
        staff = {o.code: self.city.staff(o.code) or self.city.staff(o.hall or o.code) for o in self.city.orgs}
        hall_staff = {h.code: self.city.staff(h.code) for h in self.city.halls()}
        self.complaint_rate = max(0.004, min(1.0, 20 / max(n, 1)))     # a few complaints even for tiny sets
        for i in range(n):
            item = r.choices(items, cum_weights=cum)[0]
            case = self._case(r, i, item, orgs[item.org], staff, hall_staff)
            w["cases"].row(**case)
            self._follow_up(r, case, orgs[item.org], w)

    def _case(self, r: random.Random, i: int, item: Item, org: Org, staff: dict[str, list[str]],
              hall_staff: dict[str, list[str]]) -> dict[str, Any]:
        online = r.random() < org.online_rate
        day = r.choice(self.workdays[:-1] or self.workdays)
        accepted = datetime.combine(day, _daytime(r) if not online else time(r.randrange(7, 23), r.randrange(60)))
        days = item.promised_days
        suspended = r.randint(2, 10) if not item.immediate and r.random() < 0.03 else None
        extended = r.choice((5, 10)) if not item.immediate and r.random() < 0.01 else None
        due = self._deadline(accepted.date(), days, suspended or 0, extended or 0, item.immediate)
        closed, status = self._outcome(r, item, org, accepted, suspended, extended)
        handler_pool = staff[item.org] if online else hall_staff.get(org.hall or "") or staff[item.org]
        return dict(case_no=f"BJ{i + 1:08d}", item_code=item.code, org=item.org, hall=None if online else org.hall,
                    channel="online" if online else "window", accepted_at=accepted,
                    promised_at=due if r.random() < 0.1 else None, closed_at=closed, status=status,
                    suspended_days=suspended, extended_days=extended, handler=r.choice(handler_pool),
                    visits=0 if online else (1 if item.one_visit else r.choice((1, 2, 3))))

    def _deadline(self, day: date, days: int, suspended: int, extended: int, immediate: bool) -> datetime:
        """WorkCalendar.deadline of a case accepted on `day` (it depends on the date alone), naive
        local; remembered, since 10M cases share a few thousand."""
        key = (day, days, suspended, extended, immediate)
        due = self._deadlines.get(key)
        if due is None:
            due = self._deadlines[key] = self.cal.deadline(
                datetime.combine(day, time(12), tzinfo=self.cal.tz), days, suspended, extended,
                immediate=immediate).replace(tzinfo=None)
        return due

    def _outcome(self, r: random.Random, item: Item, org: Org, accepted: datetime, suspended: int | None,
                 extended: int | None) -> tuple[datetime | None, str]:
        """(closed_at, status) as of `now`."""
        roll = r.random()
        if roll < 0.01:
            return None, "withdrawn"
        limit = 0 if item.immediate else item.promised_days
        late = r.random() < org.late_rate
        spent = limit + r.randint(1, 5) if late else (0 if item.immediate and r.random() < 0.95 else r.randint(0, max(limit, 1)))
        day = self.cal.add(accepted.date(), spent + (suspended or 0) + (extended or 0))
        closed = accepted + timedelta(minutes=r.randint(5, 120)) if day == accepted.date() else \
            datetime.combine(day, _daytime(r))
        stale = r.random() < self._open_chance(item, accepted, limit)
        if closed > self.now or stale:
            return None, "suspended" if suspended else r.choice(("accepted", "processing", "processing"))
        return closed, "rejected" if roll < 0.03 else "closed"

    def _open_chance(self, item: Item, accepted: datetime, limit: int) -> float:
        """How likely a case is still open at `now`: most open cases are within their time limit,
        a few are stuck past it (the overdue ones a daily scan finds)."""
        if (self.now - accepted).days >= 45:
            return 0.0
        elapsed = self.cal.count(accepted.date(), self.now.date())
        if elapsed <= limit + 1:
            return 0.1 if item.immediate else 0.85
        return 0.14 if item.immediate else 0.16

    def _follow_up(self, r: random.Random, case: dict[str, Any], org: Org, w: dict[str, _Writer]) -> None:
        if case["closed_at"] and r.random() < 0.3:
            self._evaluation(r, case, org, w["evaluations"])
        if r.random() < self.complaint_rate:
            self._complaint(r, case, w["complaints"])

    def _evaluation(self, r: random.Random, case: dict[str, Any], org: Org, w: _Writer) -> None:
        at = min(case["closed_at"] + timedelta(minutes=r.randint(1, 600)), self.now)
        bad = 0.04 + 0.1 * org.satisfaction
        roll = r.random()
        level = 1 if roll < bad / 3 else 2 if roll < bad else 3 if roll < bad + 0.04 else 4 if roll < bad + 0.2 else 5
        channel = r.choice(("window", "pad", "window")) if case["channel"] == "window" else r.choice(("online", "sms", "phone"))
        callback = rectified = comment = None
        if level <= 2:
            comment = r.choice(BAD_COMMENTS)
            callback = at + timedelta(hours=r.randint(2, 48)) if r.random() < 0.8 else None
            rectified = at + timedelta(days=r.randint(1, 10)) if r.random() < 0.7 else None
        w.row(id=f"PJ{w.count + 1:08d}", case_no=case["case_no"], org=case["org"], channel=channel, level=level,
              evaluated_at=at, callback_at=_until(callback, self.now), rectified_at=_until(rectified, self.now),
              comment=comment)

    def _complaint(self, r: random.Random, case: dict[str, Any], w: _Writer) -> None:
        at = case["accepted_at"] + timedelta(days=r.randint(0, 10), hours=r.randint(0, 8))
        if at > self.now:
            return
        valid = r.random() < 0.65
        rectified = at + timedelta(days=r.randint(1, 15)) if valid and r.random() < 0.8 else None
        w.row(id=f"TS{w.count + 1:06d}", org=case["org"], received_at=at, valid=valid,
              rectified_at=_until(rectified, self.now), case_no=case["case_no"] if r.random() < 0.6 else None)

    # --- other records ---------------------------------------------------------------------

    def write_consultations(self, w: _Writer, n: int) -> None:
        r = self.rng("consultations")
        orgs = [o.code for o in self.city.orgs if o.level in ("hall", "department")]
        for i in range(n):
            channel = r.choices(("hotline", "online", "onsite", "letter"), (40, 30, 20, 10))[0]
            at = self._moment(r)
            promised = self.cal.add(at.date(), 15) if channel == "letter" else None
            delay = {"hotline": timedelta(minutes=r.randint(1, 240)), "online": timedelta(hours=r.randint(1, 72)),
                     "onsite": timedelta(minutes=r.randint(1, 30)), "letter": timedelta(days=r.randint(2, 25))}[channel]
            answered = at + delay if r.random() > 0.03 else None
            w.row(id=f"ZX{i + 1:07d}", org=r.choice(orgs), channel=channel, received_at=at,
                  answered_at=_until(answered, self.now),
                  promised_at=datetime.combine(promised, time(23, 59, 59)) if promised else None)

    def write_appointments(self, w: _Writer, n: int) -> None:
        r = self.rng("appointments")
        halls = [h for h in self.city.halls()]
        items_of: dict[str | None, list[str]] = {}
        for it in self.city.items:
            items_of.setdefault(self.city.org(it.org).hall, []).append(it.code)
        for i in range(n):
            hall = r.choice(halls)
            future = r.random() < 0.15
            slot = self.now + timedelta(days=r.randint(0, 6), hours=r.randint(1, 9)) if future else self._moment(r)
            slot = slot.replace(minute=(slot.minute // 30) * 30, second=0)
            reminded = slot - timedelta(days=1) if (not future and r.random() < 0.9) or (future and r.random() < 0.6) else None
            reminded = _until(reminded, self.now)
            status = ("reminded" if reminded else "booked") if future else \
                r.choices(("attended", "missed", "cancelled"), (85, 10, 5))[0]
            w.row(id=f"YY{i + 1:07d}", org=hall.code, item_code=r.choice(items_of.get(hall.code) or [None]),
                  slot_at=slot, reminded_at=reminded, status=status)

    def write_inspections(self, w: _Writer) -> None:
        r = self.rng("inspections")
        for hall in self.city.halls():
            skipped = set(r.sample(CHECKS, r.choice((0, 0, 1, 3))))
            for back in (150, 60, 10):
                day = self._workday_near(self.now.date() - timedelta(days=back + r.randint(0, 5)))
                for check in CHECKS:
                    if check in skipped or check == DAILY_CHECK:
                        continue
                    self._inspection(r, w, hall.code, day, check)
            if DAILY_CHECK in skipped:
                continue
            # 每个工作日现场监管 (DB50/T 957.7 §5.1 d): a record each working day of the last 30 days,
            # one in 40 days missed
            for back in range(30, 0, -1):
                day = self.now.date() - timedelta(days=back)
                if self.cal.is_working_day(day) and r.random() >= 0.025:
                    self._inspection(r, w, hall.code, day, DAILY_CHECK)

    def _inspection(self, r: random.Random, w: _Writer, org: str, day: date, check: str) -> None:
        result = r.choices(("pass", "fail", "na"), (92, 5, 3))[0]
        note = "现场检查发现问题，已要求整改" if result == "fail" else None
        w.row(id=f"JC{w.count + 1:07d}", org=org, date=day, check=check, result=result, note=note)

    def write_supervisions(self, w: _Writer) -> None:
        r = self.rng("supervisions")
        for o in self.city.orgs:
            if o.level not in ("city", "district", "hall"):
                continue
            lacking = r.random() < 0.25
            for kind in ("self", "superior"):
                for back in ((170, 120) if lacking else (170, 80, 20)):
                    self._supervision(r, w, o, kind, back)
            for kind in ("public", "third_party"):
                if r.random() < 0.6:
                    self._supervision(r, w, o, kind, r.randint(10, 170))

    def _supervision(self, r: random.Random, w: _Writer, o: Org, kind: str, back: int) -> None:
        day = self._workday_near(self.now.date() - timedelta(days=back))
        titles = {"self": "自我评价", "superior": "上级评价", "public": "社会公众评价", "third_party": "第三方评价"}
        w.row(id=f"JD{w.count + 1:06d}", org=o.code, kind=kind, date=day,
              summary=f"{o.name}{titles[kind]}：{r.choice(('总体良好', '发现问题若干，已整改', '需加强窗口管理'))}")

    def write_surveys(self, w: _Writer, n: int) -> None:
        r = self.rng("surveys")
        halls = [h.code for h in self.city.halls()]
        for i in range(n):
            appendix_b = i % 2 == 1
            answers = _appendix_b(r) if appendix_b else _appendix_a(r)
            channel = "phone" if appendix_b else r.choice(("onsite", "online"))
            w.row(id=f"WJ{i + 1:06d}", org=r.choice(halls), channel=channel, date=self._moment(r).date(), **answers)

    def write_disclosures(self, w: _Writer) -> None:
        """政务公开 (DB50/T 957.7 §3.3): information to publish (主动公开, 20 working days) and requests
        to answer (依申请公开, 20, extended at most 40) of the city, districts and departments; most in
        time, a few late, a few still pending, some requests extended."""
        r = self.rng("disclosures")
        for o in self.city.orgs:
            if o.level not in ("city", "district", "department"):
                continue
            for _ in range(r.randint(6, 12)):
                self._disclosure(r, w, o, "proactive")
            for _ in range(r.randint(1, 4)):
                self._disclosure(r, w, o, "request")

    def _disclosure(self, r: random.Random, w: _Writer, o: Org, category: str) -> None:
        formed = self._moment(r)
        extended = None
        if category == "request":
            extended = r.random() < 0.2
            limit = 40 if extended else 20
            title = r.choice(REQUEST_TITLES)
        else:
            limit, title = 20, f"{o.name}{r.choice(DISCLOSURE_TITLES)}"
        late = r.random() < 0.06 + o.late_rate
        spent = limit + r.randint(1, 10) if late else r.randint(0, limit)
        published: datetime | None = datetime.combine(self.cal.add(formed.date(), spent), _daytime(r)) if spent else \
            formed + timedelta(hours=r.randint(1, 4))
        if r.random() < 0.03:               # forgotten: never published or answered
            published = None
        w.row(id=f"GK{w.count + 1:06d}", org=o.code, info_title=title, category=category, formed_at=formed,
              published_at=_until(published, self.now), extended=extended)

    def write_metrics(self, w: _Writer) -> None:
        r = self.rng("metrics")
        months = sorted({(d.year, d.month) for d in self.workdays})
        for o in self.city.orgs:
            if o.level not in ("city", "district"):
                continue
            for y, m in months:
                for name, lo, hi in METRICS:
                    value = r.randint(lo, int(hi)) if isinstance(lo, int) else round(r.uniform(lo, hi), 4)
                    w.row(org=o.code, period=f"{y}-{m:02d}", metric=name, value=value)

    # --- time helpers -------------------------------------------------------------------------

    def _moment(self, r: random.Random) -> datetime:
        """A working-day office-hours moment in the window, before now."""
        return datetime.combine(r.choice(self.workdays[:-1] or self.workdays), _daytime(r))

    def _workday_near(self, d: date) -> date:
        while not self.cal.is_working_day(d):
            d -= timedelta(days=1)
        return d


def _appendix_a(r: random.Random) -> dict[str, Any]:
    a5, a6, a8 = r.choices("ABCD", (60, 30, 7, 3))[0], r.choices("ABCD", (65, 28, 5, 2))[0], r.choices("ABCD", (45, 45, 8, 2))[0]
    return dict(a1=r.choices("ABC", (70, 25, 5))[0], a2=r.choices("AB", (92, 8))[0], a3=_multi(r, "ABCDEFGH"),
                a4=r.choice("ABCDEF"), a5=a5, a6=a6, a7=_multi(r, "ABCDEFGHIJKL") if "D" in a5 + a6 or "C" in a5 + a6 else None,
                a8=a8, a9=_multi(r, "ABCDEFG") if a8 in "CD" else None,
                a10=r.choice((None, None, None, "希望进一步减少申请材料", "网上办理流程再简化一些", "延长周末办理时间")))


def _appendix_b(r: random.Random) -> dict[str, Any]:
    b4 = r.choices("ABCD", (45, 45, 8, 2))[0]
    def sat() -> str:                 # 满意/比较满意/一般/不满意
        return r.choices("ABCD", (60, 30, 7, 3))[0]
    return dict(b1=r.choices("AB", (95, 5))[0], b2=sat(), b3=sat(), b4=b4, b5=_multi(r, "ABCDEFG") if b4 in "CD" else None,
                b6=sat(), b7=r.choices("ABC", (70, 25, 5))[0], b8=r.choices("AB", (92, 8))[0], b9=_multi(r, "ABCDEFGH"))


def _multi(r: random.Random, letters: str) -> str:
    return ";".join(sorted(r.sample(letters, r.randint(1, 3))))


def _daytime(r: random.Random) -> time:
    minutes = r.randint(8 * 60 + 30, 17 * 60)
    return time(minutes // 60, minutes % 60, r.randrange(60))


def _until(moment: datetime | None, now: datetime) -> datetime | None:
    """A moment that has happened by now, else None (not yet)."""
    return moment if moment and moment <= now else None


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)
