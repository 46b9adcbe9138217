"""The benchmark harness of imagesvc: ``make bench`` and ``make bench-scale`` (bench/README.md)."""
