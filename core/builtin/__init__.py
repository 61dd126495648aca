"""patron's own vocabulary, registered through the same entry points as any plugin."""
