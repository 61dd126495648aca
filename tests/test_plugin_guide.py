"""docs/plugins.md: its example plugin, executed as written, works end to end."""

from __future__ import annotations

import re
import types
from pathlib import Path

from core.app import build_app
from core.config import Settings
from core.cycle import run_cycle
from core.plugins import make_plugin_manager
from core.store import Store
from tests.cycle.conftest import add_customer, add_event, at, write_rules, write_template

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def example_plugin() -> types.ModuleType:
    blocks = re.findall(r"```python\n(# my_package/webinars.py\n.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) == 1, "the guide's example plugin block"
    module = types.ModuleType("webinars_example")
    exec(compile(blocks[0], str(GUIDE), "exec"), module.__dict__)  # the guide's own code
    return module


def test_the_guides_example_plugin_adds_an_event_type_and_a_feature_a_rule_can_use(
    store: Store, settings: Settings
) -> None:
    write_rules(
        settings,
        """
        rules:
          - id: webinar-regulars
            schedule: "every 1h"
            when: webinars_90d >= 2
            once_per: once
            category: marketing
            then:
              - send: {channel: file, template: care/hello}
        """,
    )
    write_template(settings, "care/hello", "en", "Hello", "See you at the next webinar!")
    app = build_app(settings=settings, pm=make_plugin_manager(extra=[example_plugin()]))
    app._store = store
    assert "webinar_attended" in app.registry.event_types.names()
    regular, once = add_customer(store, "regular"), add_customer(store, "once")
    for day in ("2026-10-01", "2026-11-10"):
        add_event(store, regular, "webinar_attended", f"{day}T10:00:00")
    add_event(store, once, "webinar_attended", "2026-11-10T10:00:00")
    add_event(store, once, "webinar_attended", "2026-12-01T10:00:00")  # after the instant
    summary = run_cycle(
        store, app.registry, settings, app.load_rules(), at("2026-11-23T01:00:00"), dry_run=True
    )
    assert (summary.outcomes[0].matched, summary.outcomes[0].sample) == (1, [regular])
