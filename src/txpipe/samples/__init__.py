"""Sample deliveries for demos, tests and benchmarks: rosters (CSV, Excel, JSON) and an xAPI LRS export."""
