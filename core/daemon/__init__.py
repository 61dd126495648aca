"""``patron daemon``: rules on their schedules, delivery all the time, survives what happens.

* :mod:`core.daemon.runner`     the event loop: cycles, delivery, signals, shutdown
* :mod:`core.daemon.schedule`   APScheduler jobs (one per rule) and the catch-up policy
* :mod:`core.daemon.reload`     rule and template files watched, validated, swapped atomically
* :mod:`core.daemon.logs`       one JSON object per line, addresses masked
* :mod:`core.daemon.metrics`    Prometheus text on a localhost endpoint
* :mod:`core.daemon.check`      ``patron daemon --check-config``

The operator's guide is ``docs/deployment.md``.
"""
