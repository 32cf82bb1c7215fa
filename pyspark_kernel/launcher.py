"""Entry point the kernelspec runs: ``python -m pyspark_kernel.launcher -f CONNECTION_FILE``.

The driver JVM is launched first (`early_start`), then ipykernel is imported."""

from __future__ import annotations


def main() -> None:
    import sys

    from . import early_start

    early_start.launch(sys.argv[1:])  # the driver JVM starts while ipykernel is imported
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import PySparkKernel

    IPKernelApp.launch_instance(kernel_class=PySparkKernel)


if __name__ == "__main__":
    main()
