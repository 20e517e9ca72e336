"""One folder per area; each `definitions.py` builds its area for the current environment profile."""
