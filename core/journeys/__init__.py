"""Journeys: multi-step campaigns any rule file can define, with a measured holdout.

A ``journeys:`` section (:mod:`core.journeys.model`) lists journeys; each enrolls
customers on a condition, walks them through ordered steps (send, wait, wait_until,
if/then/else), ends on a conversion (``exit_when``) or a stop (``stop_when``), and holds
out a stable share of enrolled customers who get no messages but are tracked the same
way, so ``patron report journeys`` (:mod:`core.journeys.report`) can show the uplift.

State is durable (:mod:`core.journeys.tables`); the cycle stage
(:mod:`core.journeys.stage`) does all the work set-based in SQL. The hooks are
registered by :mod:`core.journeys.plugin` through the ``patron`` entry-point group.
"""
