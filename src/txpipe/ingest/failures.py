"""Why a delivery has no record this run: it was still being written (deferred), or a stage failed on
it (failed). Both leave the file out of the ledger, so the next run takes it again; a failure its own
bytes cause is turned into a rejection by the batch (txpipe.ingest.batch) and recorded instead."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from txpipe.ingest.landing import CHANGING, Delivery
from txpipe.ingest.suite import SuiteError

# In the order a delivery goes through them ("census" also names the pseudonymise-and-spool step that
# feeds it; a failure outside any one delivery is reported as stage "unknown").
STAGES = ("read", "normalise", "census", "validate", "store")
ENVIRONMENTAL: tuple[type[BaseException], ...] = (OSError, MemoryError, SuiteError)


class DeliveryDeferred(Exception):
    """The file changed while it was read (it is still being written): nothing of it is kept, and the
    next run takes it once it is still. Not a failure: the run goes on and completes."""

    def __init__(self, delivery: Delivery) -> None:
        self.source, self.source_file = delivery.source, delivery.source_file
        super().__init__(f"{delivery.source}/{delivery.source_file} {CHANGING}")

    def as_report(self) -> dict[str, str]:
        return {"path": f"{self.source}/{self.source_file}", "reason": CHANGING}


class DeliveryFailed(RuntimeError):
    """A stage failed on a delivery: which file, in which stage, and the traceback.

    ``environmental``: the failure is about the machine or the set-up (the disk, memory, the suite on
    disk): the file is left out of the ledger and the next run takes it again. Otherwise the batch
    rejects the delivery (its bytes made txpipe crash) once it is alone. ``whole_batch``: a stage the
    batch shares failed, so the delivery may be innocent and is tried again alone. The exception's own
    message is withheld (a library's message may quote a delivered value); its type and frames are kept.
    """

    def __init__(self, delivery: Delivery, stage: str, error: BaseException, whole_batch: bool = False) -> None:
        self.source, self.source_file, self.stage = delivery.source, delivery.source_file, stage
        self.error_type = type(error).__name__
        # About the machine or the set-up, not the file's bytes: the disk, memory, the suite on disk.
        self.environmental = isinstance(error, ENVIRONMENTAL)
        self.whole_batch = whole_batch  # a stage the whole batch shares failed: the file may be innocent
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
