"""Prefect wiring: flows and tasks around the plain ``txpipe`` library. No logic lives here."""
