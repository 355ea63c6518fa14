"""One ingest worker of the race test (tests/store/test_racing_workers.py), run as its own process.

It ingests everything new under the landing into the store its environment names, like a pool worker.
With TXPIPE_TEST_KILL_SHARE set, before each ledger commit it dies (os._exit, no clean-up at all) with
that probability: a kill between a delivery's lake files and its record, the worst moment."""

from __future__ import annotations

import os
import random
import sys

from txpipe.jobs.ingest_job import ingest_new
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger

KILLED = 137


def main(landing: str, run_id: str) -> int:
    share = float(os.environ.get("TXPIPE_TEST_KILL_SHARE", "0"))
    chance = random.Random(os.environ.get("TXPIPE_TEST_SEED", run_id))
    commit = Ledger.commit

    def commit_or_die(self: Ledger, record):  # type: ignore[no-untyped-def]
        if chance.random() < share:
            os._exit(KILLED)
        return commit(self, record)

    Ledger.commit = commit_or_die  # type: ignore[method-assign]
    run = ingest_new(Settings.from_env(), landing, run_id=run_id)
    print(f"committed={len(run.records)} lost={len(run.already_committed)}", flush=True)
    return 1 if run.failure() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
