"""Benchmarks of the course's training code: ``python -m benchmarks`` (or ``make bench``).

Each case trains one course model and pairs its figures with a reference run in
the same process (PyTorch eager on the identical network when PyTorch is
installed, otherwise a naive JAX loop), so the table reports ratios that do not
depend on how fast or busy the machine is. Benchmarks are not tests: nothing
here asserts a speed. See PERFORMANCE.md for the figures and how to reproduce them.
"""
