"""patron: rules-based customer-care automation.

The engine lives here; the vocabulary (features, actions, channels, event types)
is contributed by plugins through :mod:`core.hookspecs`.
"""

from __future__ import annotations

__version__ = "0.1.0"
