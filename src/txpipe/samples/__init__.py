"""Sample deliveries for demos, tests and benchmarks: rosters (CSV, Excel, JSON) and an xAPI LRS export.

Entry points: :func:`txpipe.samples.rosters.generate` and :func:`txpipe.samples.lrs.write_lrs_export`.
Behind them, rosters: ``roster_vocab`` (values and defects), ``roster_records`` (records and how offices
write them), ``roster_defects``, ``roster_writers`` (the file formats) and ``roster_manifest``; the LRS
export: ``lrs_vocab`` (xAPI / cmi5 IRIs, behaviour shares), ``lrs_learners``, ``lrs_courses``,
``lrs_statements`` (shared JSON fragments, statement lines), ``lrs_enrolments`` (statement sequences)
and ``lrs_defects``.
"""
