"""Which customers each due rule's condition selects, for all rules in one pass.

A cycle evaluates every due rule against the same feature table. Scanning that wide
table once per rule costs a full decode of every row per rule; instead one
``INSERT ... SELECT`` evaluates all conditions per row and stores, per customer who
matches anything, a bit mask of the rules matched (62 rules per mask word, so the
value fits a signed 64-bit integer on every backend). Each rule then reads its
customers from that narrow table. A condition that is NULL (unknown) does not match,
exactly as in a ``WHERE`` clause.

The table is keyed by (word, mask, customer): the rules' counts come from one ordered
pass over the distinct masks (a few thousand combinations of rules), which also tells
which masks hold each rule's bit; a rule then reads only the key ranges of those
masks, not every row's mask. A rule matching 260 customers read 1M masks before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    Select,
    Table,
    case,
    func,
    insert,
    literal,
    select,
)

from core.expr import to_sql
from core.rules import RuleDef
from core.temp_tables import KEY_ORDERED, recreate, temp_table

BITS_PER_WORD = 62


def masks_table() -> Table:
    return temp_table(
        "patron_rule_masks",
        Column("word", Integer, primary_key=True),
        Column("mask", BigInteger, primary_key=True),
        Column("customer_id", Integer, primary_key=True),
        **KEY_ORDERED,
    )


@dataclass
class _Found:
    """One rule's matches: how many customers, and the distinct masks holding its bit."""

    customers: int = 0
    masks: list[int] = field(default_factory=list)


class RuleMatches:
    """The matches of a fixed list of rules over one feature table, computed up front."""

    def __init__(self, conn: Connection, features: Table, rules: Sequence[RuleDef]) -> None:
        self._position = {rule.id: index for index, rule in enumerate(rules)}
        self._conn = conn
        self._by_rule: dict[str, _Found] | None = None  # from the masks, when first asked
        self.table = masks_table()
        recreate(conn, self.table)
        columns = {c.name: c for c in features.columns}
        for word, start in enumerate(range(0, len(rules), BITS_PER_WORD)):
            chunk = rules[start : start + BITS_PER_WORD]
            mask: Any = literal(0, BigInteger)
            for bit, rule in enumerate(chunk):
                matched = to_sql(rule.condition, columns)
                mask = mask + case((matched, literal(1 << bit, BigInteger)), else_=0)
            # OFFSET 0 keeps the subquery a subquery: SQLite and PostgreSQL would
            # otherwise fold it into the outer query and evaluate every condition twice,
            # once for ``mask != 0`` and once for the value written (a third of the time).
            rows = (
                select(literal(word).label("word"), features.c.customer_id, mask.label("mask"))
                .offset(0)
                .subquery("rule_masks")
            )
            conn.execute(
                insert(self.table).from_select(
                    ["word", "customer_id", "mask"], select(rows).where(rows.c.mask != 0)
                )
            )

    def count(self, rule: RuleDef) -> int:
        """How many customers ``rule``'s condition selects. The first call counts every
        rule's in one pass over the masks (one query per mask word)."""
        return self._found()[rule.id].customers

    def _found(self) -> dict[str, _Found]:
        # Customers by distinct mask (a few thousand combinations of rules), then each
        # rule's count from the bits: far cheaper than a sum per rule over every row.
        if self._by_rule is not None:
            return self._by_rule
        table = self.table
        rule_at = {position: rule_id for rule_id, position in self._position.items()}
        found = {rule_id: _Found() for rule_id in self._position}
        grouped = select(table.c.word, table.c.mask, func.count()).group_by(
            table.c.word, table.c.mask
        )
        for word, mask, customers in self._conn.execute(grouped):
            bits = int(mask)
            while bits:
                low = bits & -bits
                rule = found[rule_at[word * BITS_PER_WORD + low.bit_length() - 1]]
                rule.customers += int(customers)
                rule.masks.append(int(mask))
                bits ^= low
        self._by_rule = found
        return found

    def customers(self, rule: RuleDef) -> Select[Any]:
        """SELECT of the customer ids whose features satisfy ``rule``'s condition."""
        word = self._position[rule.id] // BITS_PER_WORD
        table = self.table
        return select(table.c.customer_id).where(
            table.c.word == word, table.c.mask.in_(self._found()[rule.id].masks)
        )


__all__ = ["BITS_PER_WORD", "RuleMatches", "masks_table"]
