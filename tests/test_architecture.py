"""The layering of the engine and the app's way in, as import-linter contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    # all four contracts were read and checked (an empty or mistyped [tool.importlinter] must not pass)
    assert "Contracts: 4 kept, 0 broken." in report, report
    for name in ("is layered", "No import cycle", "never imports Qt", "reach the engine only through api"):
        assert name in report, name
