"""A seeded synthetic customer base that looks real: ``customers.csv`` and ``events.csv``.

``patron demo`` writes a few thousand customers with :func:`write_demo_files`; the
benchmark (``bench/generate.py``) writes a million with the same building blocks.
Every draw comes from :class:`random.Random` streams seeded from ``seed``, so one
seed gives byte-identical files. Both files stream to disk one customer at a
time, so memory stays flat whatever the size. All history lies before ``as_of``
and at most three years back. The files use the formats ``patron import`` reads.
No bad rows are generated, so the demo imports cleanly. Identifiers: customers
``C0000001``, events ``E0000001``, orders ``O-0000001``, tickets ``T-000001``,
contacts ``CT-000001``; each is numbered in file order and is unique in the file.
Events are sorted by time within each customer, and customers follow each other
in file order.

Customers
    * ~60% ``zh-CN``: a Chinese name (common family names by frequency; given
      names in the style of the birth decade), Asia/Shanghai, a Chinese city.
    * ~40% ``en``: an English name. Zones: Europe/London 30%, America/New_York
      25%, America/Los_Angeles, Australia/Sydney and Asia/Singapore 15% each.
    * Contact details: ~8% have no e-mail, ~30% no phone, ~15% no birthday.
    * E-mails like ``li.wei42@example.com``, only on example.com/.org/.net.
    * Phone numbers use the fictional ranges where a country has one (UK
      07700 900xxx, North America 555-01xx, Australia 02 5550 xxxx). Chinese
      and Singapore numbers are random, so never send SMS from demo data
      through a real gateway.
    * consent_email is false for ~5% (this includes those who unsubscribed).
      It is empty (unknown) for ~10% of those with an e-mail and for everyone
      without one. consent_sms follows the same pattern: ~8% false, ~30% unknown.
    * ~10% have an account manager, most of them heavy buyers.
    * Attributes: ``city`` and ``source`` (how the customer signed up).
    * Birthdays spread over the year, a few on 29 February. ~0.3% of customers
      (at least 3) have their birthday on the ``as_of`` date in their own
      zone, and ~1.2% (at least 5) in the 7 days after it.

Hidden segments (purchase behaviour; not written to the files)
    ==========  =====  ==========================================================
    heavy        8%    a purchase every 12–21 days, mean order ~¥900 (future VIPs)
    regular     20%    every 25–40 days, ~¥320
    occasional  30%    every 60–120 days, ~¥200
    one_time    17%    a single purchase, ~¥160
    lapsed      15%    every 20–45 days (~¥280), then nothing for 90–365 days
    new          5%    joined in the last 30 days, 0–1 purchases
    prospect     5%    signed up more than a month ago, never bought
    ==========  =====  ==========================================================

    Gaps between purchases are gamma(2)-distributed around each customer's own
    rhythm (the benchmark scales every rhythm to reach its event count). Order
    values are lognormal (σ 0.45) around the customer's own mean, with shop-like
    endings (.00, .90, .99, .50). ~4% of orders are refunded (70% in full). ~6%
    of orders get a survey, mostly scored 4–5.

Service
    * Complaints: ~11% of customers complain, heavy buyers and lapsed customers
      more often. They open 1–3 tickets each (``T-000123``), mostly a few days
      after an order.
    * Severity: normal 70%, major 22%, complex 8%. Topic: delivery,
      product_fault, payment, account_security, other.
    * Handling: ~15% of first responses come after 24 h. ~5% of tickets are
      never resolved, and ~7% of resolved tickets are reopened.
    * ~8% of active customers' tickets are opened in the 6 days before
      ``as_of``, so some are still open or unanswered.
    * ~55% answer a survey after resolution, scoring lower after a late
      response, a late resolution or a reopening.
    * Account managers contact their customers every 25–75 days on working
      days (``CT-000123``). Customers reply ~60% of the time, ~10% once lapsed.
    * ~3% unsubscribe from e-mail (a fifth of them subscribe again later) and
      ~0.6% from SMS.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 3 * 365
NEW_DAYS = 29  # "new" customers joined within this many days (under the usual 30-day rule)

CUSTOMER_COLUMNS = (
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "birthday",
    "joined_at",
    "account_manager",
    "consent_email",
    "consent_sms",
    "city",
    "source",
)
EVENT_COLUMNS = ("event_id", "customer", "type", "occurred_at", "amount", "value", "ref", "payload")

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed weighted choice; one draw is a bisect, cheaper than random.choices."""

    __slots__ = ("cumulative", "items", "total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self.cumulative: list[float] = []
        total = 0.0
        for item, weight in pairs:
            total += weight
            self.items.append(item)
            self.cumulative.append(total)
        self.total = total
        self.cumulative[-1] = math.inf  # random() * total may round up to total

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def _words(text: str) -> list[str]:
    return text.split()


def _entries(text: str) -> list[list[str]]:
    """``"王:wang:71 李:li:70"`` → ``[["王", "wang", "71"], ["李", "li", "70"]]``."""
    return [entry.split(":") for entry in text.split()]


def _weighted_words(text: str) -> Weighted[str]:
    """``"New_York:40 Boston:15"`` → a weighted choice of words ("_" stands for a space)."""
    return Weighted((word.replace("_", " "), float(weight)) for word, weight in _entries(text))


# -- names -------------------------------------------------------------------------------

# Family names by frequency (weights ~ per mille of the population).
ZH_FAMILY = Weighted(
    ((hanzi, pinyin), float(weight))
    for hanzi, pinyin, weight in _entries(
        """王:wang:71 李:li:70 张:zhang:67 刘:liu:54 陈:chen:45 杨:yang:31 黄:huang:22
        赵:zhao:20 吴:wu:20 周:zhou:19 徐:xu:13 孙:sun:13 马:ma:12 朱:zhu:11 胡:hu:11
        郭:guo:11 何:he:10 林:lin:10 高:gao:10 罗:luo:9 郑:zheng:9 梁:liang:8 谢:xie:7
        宋:song:6 唐:tang:6 许:xu:6 韩:han:5 冯:feng:5 邓:deng:5 曹:cao:5 彭:peng:5
        曾:zeng:5 肖:xiao:5 田:tian:4 董:dong:4 袁:yuan:4 潘:pan:4 蒋:jiang:4 蔡:cai:4
        余:yu:4 杜:du:4 叶:ye:4 程:cheng:4 苏:su:3 魏:wei:3 吕:lv:3 丁:ding:3 任:ren:3
        沈:shen:3 姚:yao:3 卢:lu:3 姜:jiang:3 崔:cui:3 钟:zhong:3 谭:tan:3 陆:lu:3 范:fan:2
        金:jin:2 石:shi:2 廖:liao:2 贾:jia:2 夏:xia:2 方:fang:2 白:bai:2 邹:zou:2 孟:meng:2
        熊:xiong:2 秦:qin:2 邱:qiu:2 薛:xue:2 雷:lei:2 侯:hou:2 龙:long:2 史:shi:2 陶:tao:2
        顾:gu:2 毛:mao:2 郝:hao:2 龚:gong:2 邵:shao:2 钱:qian:1 严:yan:1 武:wu:1 戴:dai:1
        孔:kong:1 汤:tang:1 欧阳:ouyang:1 司马:sima:0.2"""
    )
)
# Given names in the style of those born before 1988, and from 1988 on.
ZH_GIVEN_CLASSIC = [
    (hanzi, pinyin)
    for hanzi, pinyin in _entries(
        """伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong
        艳:yan 杰:jie 娟:juan 涛:tao 明:ming 超:chao 霞:xia 平:ping 刚:gang 秀英:xiuying
        桂英:guiying 秀兰:xiulan 建华:jianhua 建国:jianguo 志强:zhiqiang 海燕:haiyan
        晓明:xiaoming 丽娟:lijuan 文静:wenjing 晓燕:xiaoyan 振华:zhenhua 春梅:chunmei
        国强:guoqiang 永红:yonghong 红梅:hongmei 立新:lixin 卫东:weidong 淑珍:shuzhen 玉兰:yulan"""
    )
]
ZH_GIVEN_MODERN = [
    (hanzi, pinyin)
    for hanzi, pinyin in _entries(
        """宇:yu 浩:hao 婷:ting 雪:xue 琳:lin 晨:chen 欣:xin 颖:ying 博:bo 凯:kai 悦:yue
        倩:qian 鑫:xin 睿:rui 子轩:zixuan 梓涵:zihan 浩然:haoran 欣怡:xinyi 思远:siyuan
        雨萱:yuxuan 一鸣:yiming 佳怡:jiayi 宇航:yuhang 诗涵:shihan 俊杰:junjie 明轩:mingxuan
        家豪:jiahao 雅婷:yating 天宇:tianyu 嘉欣:jiaxin 博文:bowen 若曦:ruoxi 晨阳:chenyang
        梦琪:mengqi 子豪:zihao 雨桐:yutong 可欣:kexin 思琪:siqi 俊熙:junxi 紫萱:zixuan"""
    )
]
EN_FIRST = _words(
    """James Oliver Jack Harry George Noah William Thomas Daniel Michael David Matthew
    Ethan Lucas Benjamin Samuel Joseph Ryan Liam Nathan Paul Mark Andrew Olivia Amelia Isla
    Emily Sophie Charlotte Grace Chloe Jessica Emma Ava Mia Hannah Lily Sarah Laura Rachel
    Megan Zoe Priya Susan Karen Helen"""
)
EN_LAST = _words(
    """Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson
    Evans Walker White Roberts Green Hall Wood Jackson Clarke Miller Davis Garcia Martinez
    Anderson Harris Lewis Young King Scott Nguyen Patel Kelly O'Brien Murphy Campbell Mitchell
    Hughes Cooper Kim Chen Baker Turner Price"""
)
SG_FIRST = [*EN_FIRST, *_words("Marcus Jasmine Darren Cheryl Shawn Arjun Siti Farah Wei Jun")]
SG_LAST = _words("Tan Lim Lee Ng Ong Wong Goh Chua Koh Teo Chan Kumar Rahman Singh Pillai")

EMAIL_DOMAINS = Weighted((("example.com", 6.0), ("example.org", 2.0), ("example.net", 2.0)))
SOURCES = Weighted(
    (("app", 32.0), ("web", 28.0), ("store", 18.0), ("marketplace", 12.0), ("referral", 10.0))
)


# -- regions -----------------------------------------------------------------------------

CN_MOBILE_PREFIXES = _words(
    """130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159
    176 177 180 181 182 183 185 186 187 188 189 198 199"""
)


def _cn_phone(rng: random.Random) -> str:
    prefix = rng.choice(CN_MOBILE_PREFIXES)
    return f"+86 {prefix} {rng.randrange(10_000):04d} {rng.randrange(10_000):04d}"


def _uk_phone(rng: random.Random) -> str:
    return f"+44 7700 900{rng.randrange(1000):03d}"  # Ofcom's range for drama


def _us_east_phone(rng: random.Random) -> str:
    return f"+1 {rng.choice(('212', '646', '917', '617'))} 555 01{rng.randrange(100):02d}"


def _us_west_phone(rng: random.Random) -> str:
    return f"+1 {rng.choice(('310', '213', '415', '206'))} 555 01{rng.randrange(100):02d}"


def _au_phone(rng: random.Random) -> str:
    return f"+61 2 5550 {rng.randrange(10_000):04d}"  # ACMA's range for fiction


def _sg_phone(rng: random.Random) -> str:
    return f"+65 {rng.choice('89')}{rng.randrange(1000):03d} {rng.randrange(10_000):04d}"


@dataclass(frozen=True, slots=True)
class Region:
    """Where a customer lives: zone, language, cities, phone format and the staff there."""

    zone_name: str
    locale: str
    utc_offset: int  # standard offset in seconds, to put events at plausible local hours
    cities: Weighted[str]
    phone: Callable[[random.Random], str]
    managers: tuple[str, ...]
    first_names: list[str] = field(default_factory=lambda: EN_FIRST)
    last_names: list[str] = field(default_factory=lambda: EN_LAST)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)


REGIONS = Weighted(
    (
        (
            Region(
                "Asia/Shanghai",
                "zh-CN",
                8 * HOUR,
                _weighted_words(
                    """上海:14 北京:12 深圳:10 广州:9 杭州:7 成都:7 重庆:5 南京:5 武汉:5 西安:4
                    苏州:4 天津:4 长沙:3 郑州:3 青岛:3 厦门:2 宁波:2 合肥:2 沈阳:2 昆明:2 福州:2
                    大连:2 济南:2"""
                ),
                _cn_phone,
                ("陈静", "刘洋", "王磊", "张敏", "赵婷", "周杰", "孙悦", "吴昊"),
            ),
            60.0,
        ),
        (
            Region(
                "Europe/London",
                "en",
                0,
                _weighted_words(
                    """London:50 Manchester:10 Birmingham:9 Leeds:6 Bristol:6 Glasgow:5
                    Edinburgh:5 Liverpool:5 Cambridge:2 Oxford:2"""
                ),
                _uk_phone,
                ("Emma Clarke", "James Porter", "Olivia Bennett"),
            ),
            12.0,
        ),
        (
            Region(
                "America/New_York",
                "en",
                -5 * HOUR,
                _weighted_words(
                    """New_York:40 Boston:15 Philadelphia:10 Washington:10 Atlanta:8 Miami:8
                    Charlotte:5 Pittsburgh:4"""
                ),
                _us_east_phone,
                ("Daniel Hughes", "Grace Walker"),
            ),
            10.0,
        ),
        (
            Region(
                "America/Los_Angeles",
                "en",
                -8 * HOUR,
                _weighted_words(
                    "Los_Angeles:35 San_Francisco:20 Seattle:15 San_Diego:12 San_Jose:10 Portland:8"
                ),
                _us_west_phone,
                ("Ryan Mitchell", "Megan Cooper"),
            ),
            6.0,
        ),
        (
            Region(
                "Australia/Sydney",
                "en",
                10 * HOUR,
                _weighted_words("Sydney:60 Canberra:10 Newcastle:8 Wollongong:6"),
                _au_phone,
                ("Chloe Harris", "Liam O'Connor"),
            ),
            6.0,
        ),
        (
            Region(
                "Asia/Singapore",
                "en",
                8 * HOUR,
                _weighted_words("Singapore:1"),
                _sg_phone,
                ("Marcus Tan", "Jasmine Lim"),
                SG_FIRST,
                SG_LAST,
            ),
            6.0,
        ),
    )
)


# -- hidden segments ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A hidden purchase behaviour; rules are meant to rediscover it from the events."""

    name: str
    gap_days: tuple[float, float]  # range of the customers' own rhythm between purchases
    first_delay_days: float  # mean wait from sign-up to the first purchase
    order_median: float  # median over customers of their mean order value (yuan)
    complaint_rate: float
    manager_rate: float
    buys: bool = True


SEGMENTS = Weighted(
    (
        (Segment("heavy", (12, 21), 3, 900, 0.25, 0.45), 8.0),
        (Segment("regular", (25, 40), 10, 320, 0.14, 0.12), 20.0),
        (Segment("occasional", (60, 120), 20, 200, 0.08, 0.05), 30.0),
        (Segment("one_time", (0, 0), 5, 160, 0.06, 0.02), 17.0),
        (Segment("lapsed", (20, 45), 10, 280, 0.16, 0.10), 15.0),
        (Segment("new", (0, 0), 0, 180, 0.03, 0.02), 5.0),
        (Segment("prospect", (0, 0), 0, 0, 0.01, 0.08, buys=False), 5.0),
    )
)
ACTIVE_SEGMENTS = frozenset({"heavy", "regular", "occasional", "new"})

# Local hour of day: customers buy and complain at lunch and in the evening.
CUSTOMER_HOURS = Weighted(
    enumerate(map(float, _words("1 .6 .3 .2 .2 .3 .6 1.2 2 3 4 4.5 5 4.5 4 4 4 4.5 5 6 7 7 5.5 3")))
)
# Staff work 9:00–18:00 local time, a little less over lunch.
STAFF_HOURS = Weighted(
    zip(range(9, 18), (4.0, 5.0, 5.0, 2.0, 3.0, 5.0, 5.0, 4.0, 3.0), strict=True)
)
SEVERITIES = Weighted((("normal", 70.0), ("major", 22.0), ("complex", 8.0)))
TOPICS = Weighted(
    (
        ("delivery", 30.0),
        ("product_fault", 25.0),
        ("payment", 15.0),
        ("account_security", 8.0),
        ("other", 22.0),
    )
)
RESPONSE_MEDIAN_HOURS = {"normal": 4.0, "major": 2.0, "complex": 6.0}
RESOLUTION_MEDIAN_HOURS = {"normal": 16.0, "major": 30.0, "complex": 50.0}
RESOLUTION_SLA_HOURS = {"normal": 24.0, "major": 48.0, "complex": 72.0}
REFUND_REASONS = Weighted(
    (
        ("changed_mind", 35.0),
        ("damaged", 25.0),
        ("wrong_item", 15.0),
        ("late_delivery", 15.0),
        ("quality", 10.0),
    )
)
SCORES_AFTER_PURCHASE = Weighted(zip(range(1, 6), (2.0, 4.0, 10.0, 34.0, 50.0), strict=True))
SCORES_LUKEWARM = Weighted(zip(range(1, 6), (8.0, 12.0, 20.0, 30.0, 30.0), strict=True))
SCORES_AFTER_GOOD_SERVICE = Weighted(zip(range(1, 6), (5.0, 8.0, 17.0, 35.0, 35.0), strict=True))
SCORES_AFTER_POOR_SERVICE = Weighted(zip(range(1, 6), (25.0, 25.0, 25.0, 15.0, 10.0), strict=True))
CONTACT_CHANNELS = {
    "zh-CN": Weighted((("phone", 40.0), ("wechat", 40.0), ("visit", 10.0), ("sms", 10.0))),
    "en": Weighted((("phone", 40.0), ("email", 40.0), ("visit", 10.0), ("sms", 10.0))),
}


@dataclass(slots=True)
class SyntheticCustomer:
    """One customer: the row of customers.csv and the hidden plan its history follows."""

    external_id: str
    row: dict[str, str]  # CUSTOMER_COLUMNS, in order
    region: Region
    segment: Segment
    joined: int  # epoch seconds
    lapsed_at: int | None  # a lapsed customer's last day of buying
    gap_days: float  # the customer's own rhythm between purchases
    order_mean: float  # the customer's own mean order value, in yuan
    complaints: int  # how many tickets the customer opens
    manager: str | None
    unsubscribes: list[tuple[int, str, int | None]]  # (when, channel, subscribed again when)


# (occurred_at epoch seconds, type, amount in minor units, value, ref, payload JSON)
HistoryEvent = tuple[int, str, int | None, int | None, str, str]


@dataclass(slots=True)
class Refs:
    """Running numbers for order, ticket and contact references (unique per file)."""

    orders: int = 0
    tickets: int = 0
    contacts: int = 0

    def order(self) -> str:
        self.orders += 1
        return f"O-{self.orders:07d}"

    def ticket(self) -> str:
        self.tickets += 1
        return f"T-{self.tickets:06d}"

    def contact(self) -> str:
        self.contacts += 1
        return f"CT-{self.contacts:06d}"


def random_streams(seed: int) -> tuple[random.Random, random.Random]:
    """Independent streams for the customers and for their histories.

    The customers file then does not change when the history model does.
    """
    people = random.Random(f"patron-demo:{seed}:customers")
    histories = random.Random(f"patron-demo:{seed}:history")
    return people, histories


def epoch_seconds(as_of: dt.datetime) -> int:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    return math.ceil(as_of.timestamp())


# -- customers ---------------------------------------------------------------------------


def generate_customers(
    n: int, rng: random.Random, as_of: dt.datetime, *, intensity: float = 1.0
) -> Iterator[SyntheticCustomer]:
    """``n`` customers ``C0000001``, ``C0000002``… with their hidden plans, one at a time.

    ``intensity`` multiplies every customer's purchase frequency (the benchmark
    uses it to hit an event count).
    """
    if n < 0:
        raise ValueError("the number of customers cannot be negative")
    now = epoch_seconds(as_of)
    on_the_day = min(n, max(3, round(n * 0.003)))
    within_a_week = min(n - on_the_day, max(5, round(n * 0.012)))
    chosen = rng.sample(range(n), on_the_day + within_a_week)
    birthday_today = set(chosen[:on_the_day])
    birthday_soon = set(chosen[on_the_day:])
    local_today: dict[str, dt.date] = {}
    for number in range(n):
        region = REGIONS.pick(rng)
        today = local_today.get(region.zone_name)
        if today is None:
            today = local_today[region.zone_name] = as_of.astimezone(region.zone).date()
        if number in birthday_today:
            celebrate: dt.date | None = today
        elif number in birthday_soon:
            celebrate = today + dt.timedelta(days=rng.randint(1, 7))
        else:
            celebrate = None
        yield _customer(number + 1, region, rng, as_of.year, now, intensity, celebrate)


def _customer(
    number: int,
    region: Region,
    rng: random.Random,
    year: int,
    now: int,
    intensity: float,
    celebrate: dt.date | None,
) -> SyntheticCustomer:
    segment = SEGMENTS.pick(rng)
    birth_year = year - int(rng.triangular(18, 78, 31))
    if region.locale == "zh-CN":
        name, mailbox = _chinese_name(rng, birth_year)
    else:
        name, mailbox = _english_name(rng, region, birth_year)
    email = f"{mailbox}@{EMAIL_DOMAINS.pick(rng)}" if rng.random() >= 0.08 else ""
    phone = region.phone(rng) if rng.random() >= 0.30 else ""
    birthday = _birthday(rng, birth_year, celebrate)
    joined, lapsed_at = _tenure(rng, segment, region, now)
    manager = rng.choice(region.managers) if rng.random() < segment.manager_rate else None
    unsubscribes = _unsubscribes(rng, segment, joined, now, email, phone)
    opted_out = {channel for _, channel, again in unsubscribes if again is None}
    if rng.random() < segment.complaint_rate:
        complaints = 1 + (rng.random() < 0.25) + (rng.random() < 0.2)
    else:
        complaints = 0
    row = {
        "external_id": f"C{number:07d}",
        "name": name,
        "email": email,
        "phone": phone,
        "locale": region.locale,
        "timezone": region.zone_name,
        "birthday": birthday,
        "joined_at": dt.datetime.fromtimestamp(joined, region.zone).isoformat(),
        "account_manager": manager or "",
        "consent_email": _consent(rng, bool(email), "email" in opted_out, 0.035, 0.90),
        "consent_sms": _consent(rng, bool(phone), "sms" in opted_out, 0.08, 0.70),
        "city": region.cities.pick(rng),
        "source": SOURCES.pick(rng),
    }
    low, high = segment.gap_days
    return SyntheticCustomer(
        external_id=row["external_id"],
        row=row,
        region=region,
        segment=segment,
        joined=joined,
        lapsed_at=lapsed_at,
        gap_days=rng.uniform(low, high) / intensity,
        order_mean=segment.order_median * math.exp(0.35 * rng.gauss(0.0, 1.0)),
        complaints=complaints,
        manager=manager,
        unsubscribes=unsubscribes,
    )


def _chinese_name(rng: random.Random, birth_year: int) -> tuple[str, str]:
    family, family_py = ZH_FAMILY.pick(rng)
    given, given_py = rng.choice(ZH_GIVEN_MODERN if birth_year >= 1988 else ZH_GIVEN_CLASSIC)
    r = rng.random()
    if r < 0.40:
        mailbox = f"{family_py}.{given_py}{rng.randrange(1, 100)}"
    elif r < 0.65:
        mailbox = f"{family_py}{given_py}{birth_year}"
    elif r < 0.80:
        mailbox = f"{given_py}.{family_py}"
    elif r < 0.90:
        mailbox = f"{family_py}_{given_py}{rng.randrange(1, 100)}"
    else:
        mailbox = f"{given_py}{family_py}{rng.randrange(100):02d}"
    return family + given, mailbox


def _english_name(rng: random.Random, region: Region, birth_year: int) -> tuple[str, str]:
    first = rng.choice(region.first_names)
    last = rng.choice(region.last_names)
    f, s = _mailbox_word(first), _mailbox_word(last)
    r = rng.random()
    if r < 0.35:
        mailbox = f"{f}.{s}{rng.randrange(1, 100)}"
    elif r < 0.55:
        mailbox = f"{f[0]}{s}{rng.randrange(1, 100)}"
    elif r < 0.75:
        mailbox = f"{f}{s}{birth_year % 100:02d}"
    elif r < 0.90:
        mailbox = f"{f}_{s}"
    else:
        mailbox = f"{s}.{f}"
    return f"{first} {last}", mailbox


def _mailbox_word(name: str) -> str:
    return "".join(c for c in name.lower() if c.isascii() and c.isalpha())


def _birthday(rng: random.Random, birth_year: int, celebrate: dt.date | None) -> str:
    if celebrate is not None:
        year = birth_year
        if (celebrate.month, celebrate.day) == (2, 29):
            year -= year % 4  # born in a leap year (1952..2004: no century exception)
        return f"{year:04d}-{celebrate.month:02d}-{celebrate.day:02d}"
    if rng.random() < 0.15:
        return ""
    if rng.random() < 0.002:
        return f"{birth_year - birth_year % 4:04d}-02-29"
    first = dt.date(birth_year, 1, 1)
    length = (dt.date(birth_year + 1, 1, 1) - first).days
    return (first + dt.timedelta(days=rng.randrange(length))).isoformat()


def _tenure(
    rng: random.Random, segment: Segment, region: Region, now: int
) -> tuple[int, int | None]:
    """(joined, lapsed_at): sign-ups over the last three years, more of them lately."""
    lapsed_at = None
    if segment.name == "new":
        age_days = rng.uniform(0.1, NEW_DAYS - 1)
    elif segment.name == "lapsed":
        quiet_days = rng.uniform(90, 365)
        lapsed_at = now - int(quiet_days * DAY)
        age_days = rng.uniform(quiet_days + 120, HISTORY_DAYS)
    else:
        age_days = 32 + (HISTORY_DAYS - 32) * rng.random() ** 1.3
    joined = _local_time(rng, now - int(age_days * DAY), region.utc_offset)
    if joined >= now:
        joined = now - rng.randrange(HOUR, 3 * HOUR)
    return joined, lapsed_at


def _unsubscribes(
    rng: random.Random, segment: Segment, joined: int, now: int, email: str, phone: str
) -> list[tuple[int, str, int | None]]:
    plan: list[tuple[int, str, int | None]] = []
    for channel, present, rate in (
        ("email", email, 0.06 if segment.name == "lapsed" else 0.025),
        ("sms", phone, 0.006),
    ):
        if present and rng.random() < rate:
            when = joined + int(rng.random() * (now - joined))
            again: int | None = None
            if rng.random() < 0.2:
                again = when + int(rng.uniform(10, 200) * DAY)
                if again >= now:
                    again = None
            plan.append((when, channel, again))
    return plan


def _consent(rng: random.Random, reachable: bool, opted_out: bool, no: float, known: float) -> str:
    if not reachable:
        return ""
    if opted_out:
        return "false"
    r = rng.random()
    return "false" if r < no else "true" if r < known else ""


def _local_time(
    rng: random.Random, when: int, utc_offset: int, hours: Weighted[int] = CUSTOMER_HOURS
) -> int:
    """The same local day as ``when``, at a plausible hour (customers' by default)."""
    day = (when + utc_offset) // DAY
    return day * DAY - utc_offset + hours.pick(rng) * HOUR + int(rng.random() * HOUR)


# -- histories ---------------------------------------------------------------------------


def generate_history(
    customer: SyntheticCustomer, rng: random.Random, now: int, refs: Refs
) -> list[HistoryEvent]:
    """Everything that happened to one customer before ``now`` (epoch seconds), in time order."""
    events: list[HistoryEvent] = []
    orders = _purchases(customer, rng, now, refs, events)
    if customer.complaints:
        _tickets(customer, rng, now, refs, orders, events)
    if customer.manager is not None:
        _contacts(customer, rng, now, refs, events)
    for when, channel, again in customer.unsubscribes:
        payload = _json({"channel": channel})
        events.append((when, "unsubscribe", None, None, "", payload))
        if again is not None:
            events.append((again, "subscribe", None, None, "", payload))
    events = [event for event in events if event[0] < now]
    events.sort(key=itemgetter(0))
    return events


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def _purchases(
    customer: SyntheticCustomer,
    rng: random.Random,
    now: int,
    refs: Refs,
    events: list[HistoryEvent],
) -> list[tuple[int, str]]:
    """Add the orders (and their refunds and surveys); return (when, order ref) of each."""
    segment = customer.segment
    if not segment.buys or (segment.name == "new" and rng.random() >= 0.55):
        return []
    offset = customer.region.utc_offset
    end = now if customer.lapsed_at is None else customer.lapsed_at
    if segment.name == "new":
        day = (customer.joined + int(rng.random() * (now - customer.joined)) + offset) // DAY
    else:
        day = (customer.joined + offset) // DAY + int(rng.expovariate(1 / segment.first_delay_days))
    half_gap = customer.gap_days / 2
    once = segment.name in ("new", "one_time")
    scores = SCORES_LUKEWARM if segment.name == "lapsed" else SCORES_AFTER_PURCHASE
    orders: list[tuple[int, str]] = []
    while True:
        when = day * DAY - offset + CUSTOMER_HOURS.pick(rng) * HOUR + int(rng.random() * HOUR)
        if when <= customer.joined:
            when = customer.joined + 300 + int(rng.random() * 3 * HOUR)
        if when >= end:
            break
        ref = refs.order()
        cents = _order_cents(rng, customer.order_mean)
        events.append((when, "purchase", cents, None, ref, ""))
        orders.append((when, ref))
        if rng.random() < 0.04:
            refunded = (
                cents
                if rng.random() < 0.7
                else max(100, int(cents * rng.uniform(0.1, 0.6)) // 100 * 100)
            )
            payload = _json({"reason": REFUND_REASONS.pick(rng)})
            refund_day = when + int(rng.uniform(2, 20) * DAY)
            refunded_at = _local_time(rng, refund_day, offset, STAFF_HOURS)
            events.append((refunded_at, "refund", refunded, None, ref, payload))
        if rng.random() < 0.06:
            answered = _local_time(rng, when + int(rng.uniform(1, 7) * DAY), offset)
            events.append((answered, "survey", None, scores.pick(rng), ref, ""))
        if once:
            break
        # gamma(2, gap/2): the sum of two exponentials, a rhythm with some regularity
        gap = -half_gap * math.log((1.0 - rng.random()) * (1.0 - rng.random()))
        day += max(1, round(gap))
    return orders


def _order_cents(rng: random.Random, mean: float) -> int:
    """An order value around ``mean`` yuan, in fen, with the endings shops use."""
    yuan = max(9, min(50_000, round(mean * math.exp(0.45 * rng.gauss(0.0, 1.0) - 0.1))))
    r = rng.random()
    if r < 0.35:
        return yuan * 100
    if r < 0.55:
        return yuan * 100 - 10  # 99.90
    if r < 0.65:
        return yuan * 100 + 50
    if r < 0.72:
        return yuan * 100 - 1  # 99.99
    return yuan * 100 + int(rng.random() * 100)


def _tickets(
    customer: SyntheticCustomer,
    rng: random.Random,
    now: int,
    refs: Refs,
    orders: list[tuple[int, str]],
    events: list[HistoryEvent],
) -> None:
    """The customer's complaints, numbered in the order they were opened."""
    openings: list[tuple[int, str]] = []
    for _ in range(customer.complaints):
        order_ref = ""
        if customer.segment.name in ACTIVE_SEGMENTS and rng.random() < 0.08:
            opened = now - int(rng.uniform(0.05, 6) * DAY)  # recent: may still be open at as_of
            if orders and orders[-1][0] < opened:
                order_ref = orders[-1][1]
        elif orders:
            # a lapsed customer's complaint comes shortly before they stop buying
            bought, order_ref = rng.choice(
                orders[-3:] if customer.lapsed_at is not None else orders
            )
            opened = _local_time(
                rng, bought + int(rng.uniform(0.5, 10) * DAY), customer.region.utc_offset
            )
        else:
            opened = customer.joined + int(rng.random() * (now - customer.joined))
        if customer.joined < opened < now:
            openings.append((opened, order_ref))
    openings.sort()
    for opened, order_ref in openings:
        _ticket(rng, refs.ticket(), opened, order_ref, events)


def _ticket(
    rng: random.Random, ref: str, opened: int, order_ref: str, events: list[HistoryEvent]
) -> None:
    """One complaint: opened, responded, usually resolved, sometimes reopened, maybe surveyed."""
    severity = SEVERITIES.pick(rng)
    details = {"severity": severity, "topic": TOPICS.pick(rng)}
    if order_ref:
        details["order"] = order_ref
    events.append((opened, "complaint_opened", None, None, ref, _json(details)))
    late = rng.random() < 0.15
    if late:
        respond_hours = rng.uniform(24.5, 100)
    else:
        respond_hours = min(
            23.5, RESPONSE_MEDIAN_HOURS[severity] * math.exp(0.9 * rng.gauss(0.0, 1.0))
        )
    events.append((opened + int(respond_hours * HOUR), "complaint_responded", None, None, ref, ""))
    if rng.random() < 0.05:
        return  # never resolved
    resolve_hours = max(
        respond_hours + rng.uniform(0.5, 12),
        RESOLUTION_MEDIAN_HOURS[severity] * math.exp(0.6 * rng.gauss(0.0, 1.0)),
    )
    resolved = opened + int(resolve_hours * HOUR)
    events.append((resolved, "complaint_resolved", None, None, ref, ""))
    poor = late or resolve_hours > RESOLUTION_SLA_HOURS[severity]
    if rng.random() < 0.07:
        poor = True
        reopened = resolved + int(rng.uniform(1, 10) * DAY)
        events.append((reopened, "complaint_reopened", None, None, ref, ""))
        if rng.random() < 0.7:
            responded = reopened + int(rng.uniform(1, 30) * HOUR)
            events.append((responded, "complaint_responded", None, None, ref, ""))
        if rng.random() >= 0.8:
            return  # reopened and still open
        resolved = reopened + int(rng.uniform(31, 96) * HOUR)
        events.append((resolved, "complaint_resolved", None, None, ref, ""))
    if rng.random() < 0.55:
        scores = SCORES_AFTER_POOR_SERVICE if poor else SCORES_AFTER_GOOD_SERVICE
        answered = resolved + int(rng.uniform(0.1, 3) * DAY)
        events.append((answered, "survey", None, scores.pick(rng), ref, ""))


def _contacts(
    customer: SyntheticCustomer,
    rng: random.Random,
    now: int,
    refs: Refs,
    events: list[HistoryEvent],
) -> None:
    """The account manager's calls, visits and messages, on working days, and the replies."""
    offset = customer.region.utc_offset
    channels = CONTACT_CHANNELS[customer.region.locale]
    day = (customer.joined + offset) // DAY + rng.randint(3, 30)
    while True:
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        if weekday >= 5:
            day += 7 - weekday
        when = _local_time(rng, day * DAY - offset, offset, STAFF_HOURS)
        if when >= now:
            return
        ref = refs.contact()
        events.append((when, "contact", None, None, ref, _json({"channel": channels.pick(rng)})))
        if customer.lapsed_at is not None and when > customer.lapsed_at:
            reply_rate = 0.1
        else:
            reply_rate = 0.4 if not customer.segment.buys else 0.6
        if rng.random() < reply_rate:
            delay = min(5 * DAY, int(5 * HOUR * math.exp(rng.gauss(0.0, 1.0))))
            events.append((when + max(60, delay), "contact_replied", None, None, ref, ""))
        day += rng.randint(25, 75)


# -- rows and files ----------------------------------------------------------------------


def event_rows(
    customer: SyntheticCustomer, history: list[HistoryEvent], first_id: int
) -> list[tuple[str, ...]]:
    """The events.csv rows of one customer's history, numbered from ``first_id``."""
    zone = customer.region.zone
    external_id = customer.external_id
    fromtimestamp = dt.datetime.fromtimestamp
    return [
        (
            f"E{first_id + i:07d}",
            external_id,
            kind,
            fromtimestamp(when, zone).isoformat(),
            "" if amount is None else f"{amount // 100}.{amount % 100:02d}",
            "" if value is None else str(value),
            ref,
            payload,
        )
        for i, (when, kind, amount, value, ref, payload) in enumerate(history)
    ]


def generate_events(
    customers: Iterable[SyntheticCustomer], rng: random.Random, as_of: dt.datetime
) -> Iterator[dict[str, str]]:
    """The events.csv rows (as dicts) of every customer, customer after customer."""
    now = epoch_seconds(as_of)
    refs = Refs()
    next_id = 1
    for customer in customers:
        rows = event_rows(customer, generate_history(customer, rng, now, refs), next_id)
        next_id += len(rows)
        for row in rows:
            yield dict(zip(EVENT_COLUMNS, row, strict=True))


@dataclass(frozen=True, slots=True)
class SyntheticFiles:
    customers_path: Path
    events_path: Path
    customers: int
    events: int


def write_synthetic_files(
    directory: Path, *, customers: int, seed: int, as_of: dt.datetime, intensity: float = 1.0
) -> SyntheticFiles:
    """Write ``customers.csv`` and ``events.csv`` into ``directory``, streaming.

    Each file is written under a ``.partial`` name and renamed when both are complete
    (``events.csv`` last): an interrupted run leaves no file a later run would take for
    a finished one (the benchmark reuses ``events.csv`` when it exists)."""
    directory.mkdir(parents=True, exist_ok=True)
    customers_path = directory / "customers.csv"
    events_path = directory / "events.csv"
    customers_partial = directory / "customers.csv.partial"
    events_partial = directory / "events.csv.partial"
    people_rng, history_rng = random_streams(seed)
    now = epoch_seconds(as_of)
    refs = Refs()
    written = 0
    with (
        customers_partial.open("w", encoding="utf-8", newline="") as customers_file,
        events_partial.open("w", encoding="utf-8", newline="") as events_file,
    ):
        customer_writer = csv.writer(customers_file, lineterminator="\n")
        event_writer = csv.writer(events_file, lineterminator="\n")
        customer_writer.writerow(CUSTOMER_COLUMNS)
        event_writer.writerow(EVENT_COLUMNS)
        for customer in generate_customers(customers, people_rng, as_of, intensity=intensity):
            customer_writer.writerow(customer.row.values())
            rows = event_rows(
                customer, generate_history(customer, history_rng, now, refs), written + 1
            )
            event_writer.writerows(rows)
            written += len(rows)
    customers_partial.replace(customers_path)
    events_partial.replace(events_path)
    return SyntheticFiles(customers_path, events_path, customers, written)


def write_demo_files(
    directory: Path, *, customers: int = 3000, seed: int = 7, as_of: dt.datetime
) -> tuple[Path, Path]:
    """Write the demo's ``customers.csv`` and ``events.csv``; all history lies before ``as_of``."""
    files = write_synthetic_files(directory, customers=customers, seed=seed, as_of=as_of)
    return files.customers_path, files.events_path


__all__ = [
    "CUSTOMER_COLUMNS",
    "EVENT_COLUMNS",
    "Refs",
    "SyntheticCustomer",
    "SyntheticFiles",
    "event_rows",
    "generate_customers",
    "generate_events",
    "generate_history",
    "random_streams",
    "write_demo_files",
    "write_synthetic_files",
]
