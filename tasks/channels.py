"""Channel tasks on the `daraja` queue (filled in by the channels issue)."""
