"""Inline Pulumi programs (Automation API), one per stack, each built from the pure specs."""
