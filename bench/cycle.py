"""Benchmark of the cycle at scale: 1,000,000 customers and 10,000,000 events on SQLite.

    python bench/cycle.py [--customers N] [--events N] [--data DIR] [--compare-rows N]
                          [--order customer|time]

Prints the import rate, the time of a full cycle from cold (features + every
shipped rule + ledger writes), the time of a second cycle a day later after 1%
more events (each without the log checkpoint it leaves to a background connection,
which is waited for and printed apart), the peak RSS of those phases, and then, on
the same feature rows, how fast the shipped rules' conditions are evaluated by
patron (compiled SQL over the feature table, all rules in one pass as the cycle does
it, and for reference one query per rule), by the ``rule-engine`` package (one
object at a time), by a plain per-customer Python loop (hand-compiled lambdas, the
best case for Python), and by patron's own Python evaluator (what ``explain`` uses),
as rates and ratios.

The generated events come one customer's history at a time; ``--order time`` imports
them sorted by instant instead, as real feeds arrive (:mod:`bench.time_order`), so a
customer's events lie all over the store as they would in production.

Figures, not assertions: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.generate import BENCH_AS_OF, write_bench_files  # noqa: E402
from bench.time_order import write_in_time_order  # noqa: E402
from core.app import build_app  # noqa: E402
from core.config import Settings  # noqa: E402
from core.cycle import CycleSummary, run_cycle  # noqa: E402
from core.expr import Expr, evaluate, to_sql  # noqa: E402
from core.expr.ast import Compare, Duration, In, IsNull, Literal, Logical, Name, Not  # noqa: E402
from core.features import materialize  # noqa: E402
from core.importing import import_customers, import_events  # noqa: E402
from core.matching import RuleMatches  # noqa: E402
from core.rules import RuleDef  # noqa: E402
from core.store import Customer  # noqa: E402
from core.store.tables import table_of  # noqa: E402
from core.vocabulary import FeatureContext  # noqa: E402

DAY = 86400


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return result, seconds


# --- the same conditions for the peers -------------------------------------------------


def _literal(node: Expr) -> str:
    if isinstance(node, Duration):
        return repr(float(str(evaluate(node, {}))))
    assert isinstance(node, Literal), f"bench translation does not cover {node!r}"
    return repr(node.value)


class _Dialect:
    """How a peer writes null tests and names; the rest of the syntax is shared."""

    def __init__(self, null: str, name: str, true: str, false: str) -> None:
        self.null, self.name, self.true, self.false = null, name, true, false

    def value(self, node: Expr) -> str:
        if isinstance(node, Name):
            return self.name.format(node.name)
        text = _literal(node)
        return {"True": self.true, "False": self.false, "None": self.null}.get(text, text)

    def known(self, *nodes: Expr) -> str:
        tests = [f"{self.value(n)} != {self.null}" for n in nodes if isinstance(n, Name)]
        return " and ".join(tests) or self.true


PYTHON = _Dialect("None", "r[{!r}]", "True", "False")
RULE_ENGINE = _Dialect("null", "{}", "true", "false")


def translate(node: Expr, d: _Dialect, truth: bool = True) -> str:
    """A peer's condition that holds exactly where the patron condition is TRUE (or, with
    ``truth=False``, FALSE): SQL's three-valued logic spelled out, so every peer selects
    the same rows as the SQL WHERE clause."""
    if isinstance(node, Not):
        return translate(node.operand, d, not truth)
    if isinstance(node, Logical):
        op = node.op if truth else ("or" if node.op == "and" else "and")
        return f"({translate(node.left, d, truth)} {op} {translate(node.right, d, truth)})"
    if isinstance(node, Compare):
        test = f"{d.value(node.left)} {node.op} {d.value(node.right)}"
        return f"({d.known(node.left, node.right)} and {'' if truth else 'not '}({test}))"
    if isinstance(node, In):
        items = "[" + ", ".join(d.value(i) for i in node.items) + "]"
        inside = truth != node.negated
        test = f"{d.value(node.operand)} in {items}"
        return f"({d.known(node.operand)} and {'' if inside else 'not '}({test}))"
    if isinstance(node, IsNull):
        is_null = truth != node.negated
        return f"({d.value(node.operand)} {'==' if is_null else '!='} {d.null})"
    if isinstance(node, Name):  # a boolean feature
        return f"({d.known(node)} and {'' if truth else 'not '}{d.value(node)})"
    return d.value(node) if truth else f"(not {d.value(node)})"


def to_python(node: Expr) -> str:
    return translate(node, PYTHON)


def to_rule_engine(node: Expr) -> str:
    return translate(node, RULE_ENGINE)


# --- phases ----------------------------------------------------------------------------


def extra_events(
    path: Path, customers: list[str], count: int, after: dt.datetime, seed: int
) -> None:
    """``count`` new purchases by random existing customers during the day after ``after``."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "customer", "type", "occurred_at", "amount"])
        for n in range(count):
            when = after + dt.timedelta(seconds=rng.randrange(1, DAY))
            amount = f"{rng.uniform(20, 900):.2f}"
            writer.writerow(
                [f"X{n:08d}", rng.choice(customers), "purchase", when.isoformat(), amount]
            )


def compare_evaluators(app: Any, rules: list[RuleDef], as_of: int, rows: int) -> None:
    import rule_engine

    store = app.store
    ctx = FeatureContext(as_of=as_of, settings=app.settings, store=store)
    with store.engine.connect() as conn, conn.begin():
        features: Table = materialize(conn, app.registry, ctx)
        conn.execute(text(f"DELETE FROM {features.name} WHERE customer_id > :n"), {"n": rows})
        n = conn.execute(select(func.count()).select_from(features)).scalar_one()
        columns = {c.name: c for c in features.columns}

        def per_rule_sql() -> list[int]:
            return [
                conn.execute(
                    select(func.count()).select_from(features).where(to_sql(r.condition, columns))
                ).scalar_one()
                for r in rules
            ]

        def patron_sql() -> list[int]:
            matching = RuleMatches(conn, features, rules)
            return [
                conn.execute(
                    select(func.count()).select_from(matching.customers(r).subquery())
                ).scalar_one()
                for r in rules
            ]

        per_rule_counts, per_rule_s = timed(
            f"compiled SQL, one query per rule, over {n:,} rows x {len(rules)} rules",
            per_rule_sql,
        )
        sql_counts, sql_s = timed(
            "patron (compiled SQL, all rules in one pass, as the cycle)", patron_sql
        )
        assert per_rule_counts == sql_counts
        names = [c.name for c in features.columns]
        data = [dict(zip(names, row, strict=True)) for row in conn.execute(select(features))]

    lambdas = [
        eval(f"lambda r: {to_python(r.condition)}") for r in rules
    ]  # bench-only, our own text
    context = rule_engine.Context(default_value=None)
    engines = [rule_engine.Rule(to_rule_engine(r.condition), context=context) for r in rules]

    def loop() -> list[int]:
        return [sum(1 for row in data if f(row)) for f in lambdas]

    def engine() -> list[int]:
        return [sum(1 for row in data if e.matches(row)) for e in engines]

    def interpreter() -> list[int]:
        return [sum(1 for row in data if evaluate(r.condition, row) is True) for r in rules]

    loop_counts, loop_s = timed("plain Python loop (hand-compiled lambdas)", loop)
    engine_counts, engine_s = timed("rule-engine package", engine)
    interp_counts, interp_s = timed("patron Python evaluator (explain path)", interpreter)
    assert sql_counts == loop_counts == engine_counts == interp_counts, (
        sql_counts,
        loop_counts,
        engine_counts,
        interp_counts,
    )
    print(f"  all four agree on the matches: {sql_counts}")
    evaluations = n * len(rules)
    for label, seconds in (
        ("patron SQL", sql_s),
        ("SQL per rule", per_rule_s),
        ("plain loop", loop_s),
        ("rule-engine", engine_s),
        ("patron evaluator", interp_s),
    ):
        print(
            f"  {label:<17} {evaluations / seconds:>14,.0f} rule evaluations/s   ({seconds / sql_s:6.1f}x patron SQL time)"
        )
    print(
        f"  patron SQL is {engine_s / sql_s:.1f}x faster than rule-engine, {loop_s / sql_s:.1f}x faster than a plain loop"
    )


def print_breakdown(summary: CycleSummary) -> None:
    """Where a cycle's time went: features, each plugin stage, the rules, ledger rows."""
    rules_s = sum(o.seconds for o in summary.outcomes)
    print(f"  features {summary.feature_seconds:.2f} s; {summary.new:,} new ledger rows")
    kept = ", ".join(
        f"{name} {'rebuilt' if count is None else f'{count:,} recomputed'}"
        for name, count in sorted(summary.kept.items())
    )
    print(f"  kept sets: {kept or 'none'}")
    print("  stages " + ", ".join(f"{n} {s:.2f} s" for n, s in summary.stage_seconds.items()))
    slowest = sorted(summary.outcomes, key=lambda o: -o.seconds)[:6]
    print(
        f"  rules {rules_s:.2f} s; slowest: "
        + ", ".join(f"{o.rule_id} {o.seconds:.2f} s ({o.new:,} new)" for o in slowest)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--data", type=Path, default=REPO / "bench" / ".data", help="generated CSVs are cached here"
    )
    parser.add_argument(
        "--compare-rows",
        type=int,
        default=200_000,
        help="feature rows for the evaluator comparison",
    )
    parser.add_argument(
        "--order",
        choices=("customer", "time"),
        default="customer",
        help="import the events as generated (one customer at a time) or by instant",
    )
    args = parser.parse_args(argv)

    data = args.data / f"{args.customers}-{args.events}"
    if not (data / "events.csv").exists():
        print(
            f"generating {args.customers:,} customers and ~{args.events:,} events into {data}",
            flush=True,
        )
        timed("generate", lambda: write_bench_files(data, args.customers, args.events))
    events_file = data / "events.csv"
    if args.order == "time":
        events_file = data / "events-by-time.csv"
        if not events_file.exists():
            print(f"sorting the events by instant into {events_file}", flush=True)
            timed("sort", lambda: write_in_time_order(data / "events.csv", events_file))

    with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp:
        base = Path(tmp)
        settings = Settings(
            database_url=f"sqlite:///{base / 'patron.db'}",
            base_dir=REPO,
            outbox_dir=base / "outbox",
            timezone="Asia/Shanghai",
        )
        app = build_app(settings=settings)
        rules = app.load_rules()
        print(
            f"store: {base / 'patron.db'}; {len(rules.enabled())} shipped rules; "
            f"events imported in {args.order} order"
        )

        print("import")
        (report_c, sec_c) = timed(
            "customers", lambda: import_customers(app.store, data / "customers.csv", settings)
        )
        (report_e, sec_e) = timed(
            "events",
            lambda: import_events(
                app.store, events_file, settings, app.registry.event_types.names()
            ),
        )
        print(
            f"  {report_c.inserted:,} customers at {report_c.inserted / sec_c:,.0f}/s; "
            f"{report_e.inserted:,} events at {report_e.inserted / sec_e:,.0f}/s"
        )
        # Files cached by an earlier run are reused: say so when they do not hold what
        # was asked for (a run interrupted before the writes were made atomic).
        size_warning = (
            f"  warning: {data} holds {report_c.inserted:,} customers, not "
            f"{args.customers:,}; delete it to generate the data again"
            if report_c.inserted != args.customers
            else ""
        )
        if size_warning:
            print(size_warning)

        as_of = int(BENCH_AS_OF.timestamp())
        print("cycle 1 (cold: features + every shipped rule + ledger writes)")
        first, first_s = timed(
            "full cycle",
            lambda: run_cycle(app.store, app.registry, settings, rules, as_of, force=True),
        )
        print_breakdown(first)
        # The cycle leaves its log to a background checkpoint (core.store.checkpoint);
        # waited for here, so that nothing else overlaps it, and reported apart.
        _, first_ck = timed(
            "log checkpoint after it, in the background", app.store.wait_for_background
        )

        extra = max(1, report_e.inserted // 100)
        extra_path = base / "extra-events.csv"
        with app.store.begin() as conn:
            external_ids = list(conn.execute(select(table_of(Customer).c.external_id)).scalars())
        extra_events(extra_path, external_ids, extra, BENCH_AS_OF, seed=2)
        del external_ids
        print(f"cycle 2 (a day later, after {extra:,} more events = 1%)")
        report_x, _ = timed(
            "import 1% more",
            lambda: import_events(
                app.store, extra_path, settings, app.registry.event_types.names()
            ),
        )
        print(f"  {report_x.inserted:,} inserted, {report_x.rejected_count:,} rejected")
        second, second_s = timed(
            "second cycle",
            lambda: run_cycle(app.store, app.registry, settings, rules, as_of + DAY, force=True),
        )
        print_breakdown(second)
        _, second_ck = timed(
            "log checkpoint after it, in the background", app.store.wait_for_background
        )
        rss = peak_rss_mib()
        print(f"peak RSS through import and both cycles: {rss:,.0f} MiB")

        print(f"condition evaluation on the same {args.compare_rows:,} feature rows")
        with app.store.begin() as conn:
            customers_total = conn.execute(
                select(func.count()).select_from(table_of(Customer))
            ).scalar_one()
        compare_evaluators(app, rules.enabled(), as_of, min(args.compare_rows, customers_total))
        app.close()

    print("\nsummary")
    print(f"  store: {report_c.inserted:,} customers, {report_e.inserted:,} events")
    if size_warning:
        print(size_warning)
    print(
        f"  import: {report_e.inserted / sec_e:,.0f} events/s, {report_c.inserted / sec_c:,.0f} customers/s"
    )
    print(
        f"  full cycle from cold: {first_s:.1f} s (target <= 30 s); "
        f"then {first_ck:.1f} s of log checkpoint in the background"
    )
    print(
        f"  second cycle after 1% more events: {second_s:.1f} s (target <= 10 s); "
        f"then {second_ck:.1f} s of log checkpoint in the background"
    )
    print(f"  peak RSS: {rss:,.0f} MiB (target <= 1536 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
