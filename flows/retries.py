"""Retry policy shared by the I/O tasks: only I/O failures are retried, never data problems."""

from __future__ import annotations


def retry_on_io_error(_task, _task_run, state) -> bool:
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False
