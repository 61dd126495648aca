"""A test plugin whose stage copies columns of the cycle's feature table after a stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from core.hookspecs import hookimpl
from core.vocabulary import CycleStage, StageContext


class ColumnsAfterStage:
    """After the stage ``after``, ``seen`` holds every customer's ``columns`` as the
    cycle's feature table has them then."""

    def __init__(self, after: str, columns: Sequence[str]) -> None:
        self.after = after
        self.columns = tuple(columns)
        self.seen: dict[int, tuple[Any, ...]] = {}

    def run(self, stage: StageContext) -> dict[str, int]:
        table = stage.features
        found = stage.conn.execute(
            select(table.c.customer_id, *(table.c[name] for name in self.columns))
        )
        self.seen = {row[0]: tuple(row[1:]) for row in found}
        return {}

    @hookimpl
    def patron_cycle_stages(self) -> list[CycleStage]:
        return [CycleStage(f"copy-after-{self.after}", self.run, after=(self.after,))]
