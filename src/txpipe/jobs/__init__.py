"""One library call per job, the same for the flows, the tests and the benchmarks.

- :func:`~txpipe.jobs.run_job.run_pipeline`: the main job as one object: the run lock taken once,
  recovery after a killed run, the no-op rule (:func:`~txpipe.jobs.run_job.nothing_to_do`), ingest,
  build and publish, returning a :class:`~txpipe.jobs.run_job.RunReport`; when a run needs a human is
  :func:`txpipe.ops.health.run_problems`;
- :func:`~txpipe.jobs.ingest_job.ingest_new`: survey the landing, ingest what is new (large files
  alone, small ones in batches), commit the ledger from one place, write the run report;
- :func:`~txpipe.jobs.build_job.plan_build` and :func:`~txpipe.jobs.build_job.build`: decide whether
  the published warehouse is current, else publish a new one, export the marts, write the pages.

The flows wire these into Prefect flows and tasks (concurrency, retries, logs, artifacts) and decide
nothing themselves.
"""
