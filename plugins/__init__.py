"""The plugins that ship with patron: tiering, churn and care."""
