"""Why a delivery has no record this run: it was still being written (deferred), or a bug failed it
in a stage (failed). Both leave the file out of the ledger, so the next run takes it again."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from txpipe.ingest.landing import CHANGING, Delivery

# In the order a delivery goes through them ("census" also names the pseudonymise-and-spool step that
# feeds it; a failure outside any one delivery is reported as stage "unknown").
STAGES = ("read", "normalise", "census", "validate", "store")


class DeliveryDeferred(Exception):
    """The file changed while it was read (it is still being written): nothing of it is kept, and the
    next run takes it once it is still. Not a failure: the run goes on and completes."""

    def __init__(self, delivery: Delivery) -> None:
        self.source, self.source_file = delivery.source, delivery.source_file
        super().__init__(f"{delivery.source}/{delivery.source_file} {CHANGING}")

    def as_report(self) -> dict[str, str]:
        return {"path": f"{self.source}/{self.source_file}", "reason": CHANGING}


class DeliveryFailed(RuntimeError):
    """A delivery failed on a bug, not on its data: which file, in which stage, and the traceback.

    The file is left out of the ledger, so the next run takes it again. The exception's own message
    is withheld (a library's message may quote a delivered value); its type and frames are kept.
    """

    def __init__(self, delivery: Delivery, stage: str, error: BaseException) -> None:
        self.source, self.source_file, self.stage = delivery.source, delivery.source_file, stage
        self.error_type = type(error).__name__
        frames = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        self.traceback = f"Traceback (most recent call last):\n{frames}{self.error_type} (message withheld)"
        super().__init__(f"{self.source}/{self.source_file} failed in stage '{stage}' ({self.error_type})")

    def as_report(self) -> dict[str, str]:
        return {
            "source": self.source,
            "source_file": self.source_file,
            "stage": self.stage,
            "error": self.error_type,
            "traceback": self.traceback,
        }


@dataclass
class Stage:
    """The stage a delivery is in, so that a failure can say where it happened."""

    name: str = STAGES[0]
