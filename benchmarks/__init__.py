"""pytest-benchmark suites for albench's performance-critical paths (``make bench``)."""
