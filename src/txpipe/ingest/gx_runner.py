"""Running GX: a frame and some rules of the suite in, the failed positions per rule out.

GX is set up once per process by :func:`prepare_validation`, which whoever runs an ingest calls
before its first delivery (through :meth:`txpipe.ingest.IngestContext.create`); should nobody have
called it, the first :func:`run_gx` does (through ``_batch_definition``). The set-up has process-wide side effects, made
there and nowhere else (never at import):

- GX's ``hash_pandas_dataframe`` is replaced by a cheap fingerprint (:func:`_cheap_batch_fingerprints`);
- the ``great_expectations`` logger is set to ERROR (:func:`_quiet_gx_logging`);
- an ephemeral GX context is made, with its progress bars off, and an in-memory pandas data source.

GX calls are serialised by a lock: the context and its data source are shared by every thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from txpipe.ingest.suite import Parameters, Positions, RowSuite, SuiteError

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition

_gx_lock = threading.Lock()
_setup_lock = threading.Lock()  # prepare_validation may run on a warm-up thread while a run starts
_gx_batch_definition: BatchDefinition[Any] | None = None  # made by prepare_validation()


def _cheap_batch_fingerprints() -> None:
    """GX fingerprints every in-memory batch by hashing all its values, twice per validation (once to
    build the batch, once to build the validator), which costs more than the validation itself. Our
    GX batches are frames of distinct value combinations validated once and never looked up again, so
    shape and identity serve.

    Process-wide: replaces ``hash_pandas_dataframe`` in GX's pandas execution engine for every user of
    GX in this process. Called only by :func:`prepare_validation`."""
    from great_expectations.execution_engine import pandas_execution_engine

    def fingerprint(frame: pd.DataFrame) -> str:
        return f"txpipe-chunk-{id(frame):x}-{frame.shape[0]}x{frame.shape[1]}"

    if hasattr(pandas_execution_engine, "hash_pandas_dataframe"):  # GX 1.x; elsewhere only slower
        pandas_execution_engine.hash_pandas_dataframe = fingerprint
    else:
        logging.getLogger(__name__).warning("GX no longer has hash_pandas_dataframe: batches are hashed in full")


def _quiet_gx_logging() -> None:
    """Process-wide: GX logs only errors (its info and warnings would drown the pipeline's own log).
    Called only by :func:`prepare_validation`."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)


def prepare_validation() -> None:
    """Set up GX's in-memory data source now rather than at the first validation (once per process;
    later calls do nothing).

    Process-wide side effects, made here only: GX's ``hash_pandas_dataframe`` is replaced
    (:func:`_cheap_batch_fingerprints`) and the ``great_expectations`` logger set to ERROR
    (:func:`_quiet_gx_logging`), before an ephemeral GX context is made (progress bars off)."""
    global _gx_batch_definition
    with _setup_lock:
        if _gx_batch_definition is not None:
            return
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _cheap_batch_fingerprints()
        _quiet_gx_logging()
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("txpipe").add_dataframe_asset("deliveries")
        _gx_batch_definition = asset.add_batch_definition_whole_dataframe("delivery")


def _batch_definition() -> BatchDefinition[Any]:
    """GX's batch definition for a whole in-memory frame. Calls :func:`prepare_validation` first if it
    has not run yet, and so makes its process-wide side effects (GX's hashing replaced, GX's logger
    set to ERROR)."""
    if _gx_batch_definition is None:
        prepare_validation()
    assert _gx_batch_definition is not None  # made by prepare_validation()
    return _gx_batch_definition


def run_gx(data: pd.DataFrame, suite: RowSuite, names: frozenset[str], parameters: Parameters) -> dict[str, Positions]:
    """GX's verdict on every row of ``data`` for the named rules: failed positions per rule."""
    with _gx_lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": data.reset_index(drop=True)})
        result = batch.validate(
            suite.subset(names),
            result_format={"result_format": "COMPLETE"},
            expectation_parameters=parameters,
        )
    failures: dict[str, Positions] = {}
    for outcome in result.results:
        config = outcome.expectation_config
        assert config is not None  # GX gives each result of a suite's validation its expectation
        name = config.meta["rule"]
        info = outcome.exception_info or {}
        if info.get("raised_exception"):
            raise SuiteError(f"rule {name} could not be evaluated: {info.get('exception_message')}")
        index = outcome.result.get("unexpected_index_list") or []
        failures[name] = np.asarray(index, dtype=np.int64)
    if set(failures) != set(names):
        raise SuiteError(f"GX returned results for {sorted(failures)}, expected {sorted(names)}")
    return failures
