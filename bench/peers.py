"""What the benchmark scripts that run the Python peers share: where things are, and the
virtualenv the peers are installed into from PyPI."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
VENV = os.path.join(ROOT, "bench", ".venv")
PACKAGES = ["numpy", "pyarrow", "scikit-learn", "lightgbm", "xgboost"]


def peer_python():
    """Creates bench/.venv if needed, installs (or confirms) the peers in it, and returns its
    python; also creates bench/out."""
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check"] + PACKAGES,
                   check=True)
    return os.path.join(VENV, "bin", "python")
