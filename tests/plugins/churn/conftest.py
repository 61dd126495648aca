"""Fixtures for churn tests: an app with the engine and the churn plugin only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from sqlalchemy import insert

from core.app import App, build_app
from core.config import Settings
from core.features import feature_rows
from core.plugins import make_plugin_manager
from core.store import Store
from core.vocabulary import FeatureContext
from plugins.churn.tables import model_fits
from tests.cycle.conftest import at, write_rules
from tests.journeys.conftest import cycle

OTHER_PLUGINS = ("care", "tiering")


@pytest.fixture
def churn_app(store: Store, settings: Settings) -> Callable[..., App]:
    """``churn_app(yaml=None)``: write the rules (if any) and build an App over the store."""

    def build(text: str | None = None) -> App:
        if text is not None:
            write_rules(settings, text)
        app = build_app(settings=settings, pm=make_plugin_manager(block=OTHER_PLUGINS))
        app._store = store
        return app

    return build


def features_of(app: App, when: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """A few customers' features as of ``when``, the way delivery computes them."""
    ctx = FeatureContext(as_of=at(when), settings=app.settings, store=app.store)
    with app.store.begin() as conn:
        return feature_rows(conn, app.registry, ctx, list(ids))


def store_fit(store: Store, when: str, r: float, alpha: float, a: float, b: float) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(model_fits).values(
                as_of=at(when),
                r=r,
                alpha=alpha,
                a=a,
                b=b,
                n_customers=0,
                n_repeat_customers=0,
                log_likelihood=0.0,
            )
        )


__all__ = ["OTHER_PLUGINS", "churn_app", "cycle", "features_of", "store_fit"]
