"""imgpipe benchmarks: imgpipe's imaging core vs the ImageMagick CLI (the seeds' tool) vs libvips.

Run with `python -m benchmarks.run` (or `make bench`); never part of `make test`.
"""
