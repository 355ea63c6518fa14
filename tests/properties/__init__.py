"""Property-based tests of txpipe's row fate against an independent oracle (tests/properties/oracle.py).

The number of examples follows the hypothesis profile (tests/hypothesis_profiles.py).
"""
