"""Where what is delivered is kept: atomic file writes, the Parquet lake and the delivery ledger."""
