"""txpipe: training-and-exercise event processing for NATO partnership programmes.

The stages below form a plain library (no orchestrator imports); ``flows/`` wires them
into Prefect flows and ``txpipe.cli`` is the command line that starts those flows.
"""

__version__ = "0.1.0"
