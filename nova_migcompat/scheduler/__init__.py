"""The nova-scheduler side of nova-migcompat (imports nova)."""
