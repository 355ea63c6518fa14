"""Running txpipe safely: the run lock, recovery, health, process memory set-up and the local Prefect server."""
