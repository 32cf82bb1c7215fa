"""The bundled notebooks are saved without lines that only describe the machine that ran
them (a Spark UI port taken by another kernel, native-library warnings, Jupyter's own
transport warnings): what a reader sees in a saved notebook is what the code did."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
MACHINE_NOISE = re.compile(
    r"could not bind on port|NativeCodeLoader|Kernel is running over TCP|"
    r"Your hostname, .* resolves to a loopback address|Set SPARK_LOCAL_IP"
)


def saved_lines(path: Path):
    for number, cell in enumerate(json.loads(path.read_text())["cells"]):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")]
            texts += [output.get("data", {}).get("text/plain", "")]
            for text in texts:
                for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                    yield number, line


def test_there_are_bundled_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_carry_no_machine_specific_noise(path):
    noisy = [(cell, line) for cell, line in saved_lines(path) if MACHINE_NOISE.search(line)]
    assert noisy == []
