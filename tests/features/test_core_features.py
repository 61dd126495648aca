"""Core features on constructed histories, hand-computed, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from core.birthdays import days_until_birthday
from core.config import Settings
from core.features import feature_rows, materialize
from core.registry import Registry
from core.store import Store
from core.vocabulary import FeatureContext
from tests.cycle.conftest import add_customer, add_event, at

AS_OF = "2026-11-23T01:00:00"  # 09:00 in Asia/Shanghai, still 22 November in Los Angeles


def features_of(
    store: Store, registry: Registry, settings: Settings, customer_id: int, as_of: str = AS_OF
) -> dict:
    ctx = FeatureContext(as_of=at(as_of), settings=settings, store=store)
    with store.begin() as conn:
        return feature_rows(conn, registry, ctx, [customer_id])[customer_id]


def test_purchase_history(store: Store, registry: Registry, settings: Settings) -> None:
    cid = add_customer(store, "c1")
    add_event(store, cid, "purchase", "2025-11-01T00:00:00", amount=10000)  # > 365 d ago
    add_event(
        store, cid, "purchase", "2026-08-25T01:00:00", amount=2000
    )  # exactly 90 d before: outside 90 d
    add_event(store, cid, "purchase", "2026-11-13T01:00:00", amount=3000)  # 10 d ago
    add_event(store, cid, "refund", "2026-11-20T00:00:00", amount=500)
    add_event(
        store, cid, "purchase", "2026-11-24T00:00:00", amount=99999
    )  # after as_of: does not exist yet
    f = features_of(store, registry, settings, cid)
    assert f["days_since_last_purchase"] == 10
    assert f["days_since_first_purchase"] == pytest.approx(
        (at(AS_OF) - at("2025-11-01T00:00:00")) / 86400
    )
    assert (f["purchase_count"], f["purchase_count_365d"], f["purchase_count_90d"]) == (3, 2, 1)
    assert (f["spend_total"], f["spend_365d"], f["spend_90d"]) == (14500, 4500, 2500)
    assert f["average_order_value"] == 5000
    assert f["tenure_days"] == f["days_since_first_purchase"]  # no join date: first purchase


def test_customer_without_events_gets_defaults(
    store: Store, registry: Registry, settings: Settings
) -> None:
    cid = add_customer(store, "quiet", joined_at=at("2026-11-20T01:00:00"), email="q@example.com")
    f = features_of(store, registry, settings, cid)
    assert (f["purchase_count"], f["spend_total"], f["open_complaints"], f["complaints_90d"]) == (
        0,
        0,
        0,
        0,
    )
    assert f["days_since_last_purchase"] is None and f["average_order_value"] is None
    assert f["tenure_days"] == 3
    assert (f["has_email"], f["has_phone"], f["has_account_manager"]) == (True, False, False)
    assert f["locale"] == "zh-CN"  # the configured default


def test_birthday_in_the_customers_own_zone(
    store: Store, registry: Registry, settings: Settings
) -> None:
    shanghai = add_customer(store, "sh", birth_month=11, birth_day=23, timezone="Asia/Shanghai")
    la = add_customer(store, "la", birth_month=11, birth_day=23, timezone="America/Los_Angeles")
    default_zone = add_customer(store, "dz", birth_month=11, birth_day=23)
    assert features_of(store, registry, settings, shanghai)["days_until_birthday"] == 0
    assert features_of(store, registry, settings, la)["days_until_birthday"] == 1
    assert features_of(store, registry, settings, default_zone)["days_until_birthday"] == 0


@pytest.mark.parametrize(
    ("today", "month", "day", "expected"),
    [
        (dt.date(2026, 2, 28), 2, 29, 0),  # no 29 Feb in 2026: celebrated on the 28th
        (dt.date(2026, 3, 1), 2, 29, 364),  # next: 28 Feb 2027
        (dt.date(2027, 3, 1), 2, 29, 365),  # next: 29 Feb 2028
        (dt.date(2028, 2, 28), 2, 29, 1),
        (dt.date(2026, 12, 31), 1, 1, 1),
        (dt.date(2026, 11, 23), 11, 22, 364),
    ],
)
def test_days_until_birthday_calendar(today: dt.date, month: int, day: int, expected: int) -> None:
    assert days_until_birthday(today, month, day) == expected


def test_leap_day_birthday_in_sql(store: Store, registry: Registry, settings: Settings) -> None:
    cid = add_customer(store, "leap", birth_month=2, birth_day=29, timezone="UTC")
    assert (
        features_of(store, registry, settings, cid, "2027-02-28T12:00:00")["days_until_birthday"]
        == 0
    )
    assert (
        features_of(store, registry, settings, cid, "2028-02-28T12:00:00")["days_until_birthday"]
        == 1
    )


def test_service_history(store: Store, registry: Registry, settings: Settings) -> None:
    cid = add_customer(store, "svc")
    add_event(store, cid, "complaint_opened", "2026-06-01T00:00:00", ref="T1")
    add_event(store, cid, "complaint_resolved", "2026-06-02T00:00:00", ref="T1")
    add_event(store, cid, "complaint_opened", "2026-11-01T00:00:00", ref="T2")
    add_event(store, cid, "complaint_resolved", "2026-11-02T01:00:00", ref="T2")
    add_event(store, cid, "complaint_reopened", "2026-11-10T00:00:00", ref="T2")
    add_event(store, cid, "complaint_opened", "2026-11-22T00:00:00", ref="T3")
    add_event(store, cid, "survey", "2026-11-03T00:00:00", value=2)
    add_event(store, cid, "survey", "2026-11-21T01:00:00", value=4)
    add_event(store, cid, "survey", "2026-11-25T00:00:00", value=1)  # future
    add_event(store, cid, "contact", "2026-11-16T01:00:00")
    f = features_of(store, registry, settings, cid)
    assert f["open_complaints"] == 2  # T2 reopened, T3 open
    assert f["complaints_90d"] == 2  # T2 and T3 opened within 90 days
    assert f["days_since_last_resolution"] == 21
    assert (f["last_survey_score"], f["days_since_last_survey"]) == (4, 2)
    assert f["days_since_last_contact"] == 7


def test_materialized_table_agrees_with_feature_rows(
    store: Store, registry: Registry, settings: Settings
) -> None:
    ids = [add_customer(store, f"m{i}", birth_month=1 + i, birth_day=10) for i in range(4)]
    for i, cid in enumerate(ids):
        for k in range(i):
            add_event(store, cid, "purchase", f"2026-0{k + 1}-05T00:00:00", amount=100 * (k + 1))
    ctx = FeatureContext(as_of=at(AS_OF), settings=settings, store=store)
    with store.begin() as conn:
        table = materialize(conn, registry, ctx)
        from sqlalchemy import select

        from core.features import normalize

        materialized = {
            row["customer_id"]: {
                name: normalize(registry.features[name].type, row[name])
                for name in registry.features.names()
            }
            for row in conn.execute(select(table)).mappings()
        }
        direct = feature_rows(conn, registry, ctx, ids)
    assert materialized == direct
