"""Entry point the kernelspec runs: ``python -m pyspark_kernel.launcher -f CONNECTION_FILE``."""

from __future__ import annotations


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import PySparkKernel

    IPKernelApp.launch_instance(kernel_class=PySparkKernel)


if __name__ == "__main__":
    main()
