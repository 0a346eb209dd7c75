"""The engine must never import Qt, directly or through a dependency."""

import subprocess
import sys

QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt", "qtpy")

CODE = """
import sys, importlib, pkgutil, ntmm_engine
names = [m.name for m in pkgutil.walk_packages(ntmm_engine.__path__, 'ntmm_engine.') if not m.name.endswith('__main__')]
assert len(names) > 30, names  # every sub-package's modules, not only the top level
for name in names:
    importlib.import_module(name)
import transformers, datasets  # what the jobs pull in
bad = sorted(m for m in sys.modules if m.split('.')[0] in %r)
print('QT:' + ','.join(bad))
""" % (QT,)


def test_engine_imports_no_qt():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("QT:")][-1]
    assert line == "QT:", f"engine imported Qt modules: {line}"
