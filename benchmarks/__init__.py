"""Benchmarks of the ``pyspark`` kernel against a plain ``python3`` ipykernel kernel.

Run with ``python -m benchmarks [--quick] [--out benchmarks/results.json]``. Both kernels run
in the same process, side by side, over the Jupyter protocol; the plain kernel builds its
own SparkSession in its first cell. Benchmarks report numbers and ratios, they never assert.
"""
