"""Occasion features: holidays per country and local date, anniversaries, member-day dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.config import Settings
from core.features import feature_rows
from core.registry import Registry
from core.store import Store
from core.vocabulary import FeatureContext
from plugins.care.holidays_calendar import country_of_locale, country_of_zone, holiday_key, outlook
from tests.cycle.conftest import add_customer, add_event, at


def features(
    store: Store, registry: Registry, settings: Settings, when: str, ids: list[int]
) -> dict[int, dict[str, Any]]:
    ctx = FeatureContext(as_of=at(when), settings=settings, store=store)
    with store.begin() as conn:
        return feature_rows(conn, registry, ctx, ids)


def test_holidays_follow_the_customers_country_and_local_date(
    store: Store, registry: Registry, settings: Settings
) -> None:
    shanghai = add_customer(store, "sh", timezone="Asia/Shanghai")
    chinese_in_new_york = add_customer(
        store, "ny-cn", timezone="America/New_York", attributes={"country": "cn"}
    )
    american = add_customer(store, "ny-us", timezone="America/New_York", locale="en-US")
    taiwanese = add_customer(store, "tw", locale="zh-TW")  # no zone of their own: locale region
    unknown = add_customer(store, "xx", attributes={"country": "Narnia"})
    ids = [shanghai, chinese_in_new_york, american, taiwanese, unknown]
    # 2026-02-17 01:00 in Shanghai, still the 16th (New Year's Eve) in New York
    rows = features(store, registry, settings, "2026-02-16T17:00:00", ids)
    assert {i: (r["country"], r["holiday_today"]) for i, r in rows.items()} == {
        shanghai: ("CN", "spring_festival"),
        chinese_in_new_york: ("CN", "spring_festival_eve"),
        american: ("US", "washingtons_birthday"),  # Presidents' Day
        taiwanese: ("TW", "spring_festival"),  # the default zone's date (Shanghai)
        unknown: ("NARNIA", None),
    }
    assert rows[shanghai]["holiday_today_name"] == "Chinese New Year (Spring Festival)"
    assert rows[shanghai]["days_until_spring_festival"] == 0
    assert rows[chinese_in_new_york]["days_until_spring_festival"] == 1
    assert rows[american]["days_until_spring_festival"] is None
    assert rows[american]["days_until_christmas"] == 312
    assert rows[shanghai]["days_until_mid_autumn"] == 220  # 2026-09-25
    assert (rows[unknown]["next_holiday"], rows[unknown]["days_until_next_holiday"]) == (None, None)
    # on the second day of the festival the next one is a year away
    later = features(store, registry, settings, "2026-02-18T04:00:00", [shanghai])[shanghai]
    assert later["holiday_today"] == "spring_festival"
    assert later["days_until_spring_festival"] == 353  # 2027-02-06


def test_next_holiday_skips_substitute_days_off() -> None:
    found = outlook("CN", dt.date(2026, 10, 4))
    assert found is not None
    assert (found.holiday_today, found.next_holiday) == (None, "new_year")
    assert found.days_until["national_day"] == 362
    assert holiday_key("Day off (substituted from 01/04/2026)") is None
    assert holiday_key("Dragon Boat Festival (observed)") is None
    assert (
        holiday_key("Juneteenth National Independence Day")
        == "juneteenth_national_independence_day"
    )


def test_countries_of_zones_and_locales() -> None:
    assert [
        country_of_zone(z) for z in ("Asia/Shanghai", "Asia/Hong_Kong", "Europe/Berlin", "UTC")
    ] == [
        "CN",
        "HK",
        "DE",
        None,
    ]
    assert [country_of_locale(x) for x in ("zh-CN", "zh_Hant_TW", "en", None)] == [
        "CN",
        "TW",
        None,
        None,
    ]


def test_membership_anniversaries_in_the_customers_zone_and_on_29_february(
    store: Store, registry: Registry, settings: Settings
) -> None:
    leap = add_customer(
        store, "leap", timezone="Asia/Shanghai", joined_at=at("2020-02-29T20:00:00+08:00")
    )
    # 05:00 UTC on 1 March is still 29 February in Los Angeles
    west = add_customer(
        store, "west", timezone="America/Los_Angeles", joined_at=at("2020-03-01T05:00:00")
    )
    newcomer = add_customer(store, "new", joined_at=at("2027-02-28T08:00:00+08:00"))
    never = add_customer(store, "never")
    ids = [leap, west, newcomer, never]
    rows = features(store, registry, settings, "2027-02-28T10:00:00+08:00", ids)
    got = {
        i: (r["membership_years"], r["days_until_membership_anniversary"]) for i, r in rows.items()
    }
    assert got == {leap: (7, 0), west: (6, 1), newcomer: (0, None), never: (None, None)}
    leap_year = features(store, registry, settings, "2028-02-28T10:00:00+08:00", ids)
    assert leap_year[leap]["days_until_membership_anniversary"] == 1  # 2028 has a 29 February


def test_local_date_features_for_member_days(
    store: Store, registry: Registry, settings: Settings
) -> None:
    shanghai = add_customer(store, "sh", timezone="Asia/Shanghai")
    london = add_customer(store, "ldn", timezone="Europe/London")
    rows = features(store, registry, settings, "2026-11-17T23:30:00", [shanghai, london])
    assert [
        (r["today_month"], r["today_day_of_month"], r["today_weekday"])
        for r in (rows[shanghai], rows[london])
    ] == [(11, 18, 3), (11, 17, 2)]


def test_last_nps_score_and_review_cadence(
    store: Store, registry: Registry, settings: Settings
) -> None:
    customer = add_customer(store, "c1")
    add_event(store, customer, "survey", "2026-11-01T00:00:00", value=4, payload={"nps": 9})
    add_event(store, customer, "survey", "2026-11-10T00:00:00", value=2)  # CSAT only
    add_event(store, customer, "contact", "2026-01-01T00:00:00", payload={"kind": "review"})
    add_event(store, customer, "contact", "2026-11-20T00:00:00", payload={"kind": "call"})
    row = features(store, registry, settings, "2026-11-21T00:00:00", [customer])[customer]
    assert (row["last_nps_score"], row["days_since_last_nps"]) == (9, 20)
    assert (row["days_since_last_review"], row["days_since_last_visit"]) == (324, None)


@pytest.mark.parametrize("country", ["CN", "HK", "SG", "KR", "VN", "US"])
def test_every_supported_country_has_an_outlook(country: str) -> None:
    found = outlook(country, dt.date(2026, 11, 23))
    assert found is not None and found.next_holiday is not None
