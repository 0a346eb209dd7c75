"""README.md's benchmark figures match the committed results in bench/results/ (scripts/readme_figures.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    # scripts/ is not a package: load the file itself, the one CI and the README's note point at
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "scripts" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


figures = _load_script()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_figures_match_bench_results():
    diff = figures.check(ROOT / "README.md", ROOT / "bench" / "results")
    assert not diff, "README.md is out of date with bench/results: run python scripts/readme_figures.py\n" + diff


def test_every_figure_reads_committed_results():
    for name, (_, sources) in figures.FIGURES.items():
        for source in sources:
            path = ROOT / "bench" / "results" / source
            assert path.is_file(), f"figures:{name} reads {source}, which is not committed"
            json.loads(path.read_text(encoding="utf-8"))


def test_a_changed_number_is_caught():
    """The check compares real generated text: a README figure edited by hand shows up in the diff."""
    region = re.search(r"<!-- figures:plot_redraw -->(.*?)<!-- /figures -->", README, re.DOTALL)
    assert region and "x)" in region[1]
    edited = README.replace(region[0], region[0].replace(region[1], re.sub(r"[\d.]+x\)", "9.99x)", region[1])))
    assert edited != README
    assert figures.render(edited) == README  # regenerating restores the committed figure


def test_a_changed_result_is_caught(tmp_path):
    """A new bench result without a regenerated README fails the check."""
    results = tmp_path / "results"
    results.mkdir()
    for f in (ROOT / "bench" / "results").glob("*.json"):
        (results / f.name).write_bytes(f.read_bytes())
    data = json.loads((results / "plot_redraw.json").read_text())
    data["translucent_over_opaque"] = 3.21
    (results / "plot_redraw.json").write_text(json.dumps(data))
    diff = figures.check(ROOT / "README.md", results)
    assert "+" in diff and "3.21x" in diff


def test_unknown_or_missing_regions_are_errors():
    with pytest.raises(figures.FiguresError, match="does not know"):
        figures.render(README + "\nsee <!-- figures:no_such_figure -->1<!-- /figures -->\n")
    without = re.sub(r"<!-- figures:gui_startup -->.*?<!-- /figures -->", "", README, flags=re.DOTALL)
    with pytest.raises(figures.FiguresError, match="gui_startup"):
        figures.render(without)


def test_main_check_exit_codes(tmp_path, capsys):
    assert figures.main(["--check"]) == 0
    stale = tmp_path / "README.md"
    stale.write_text(README.replace("<!-- figures:gui_startup -->\n", "<!-- figures:gui_startup -->\nstale.\n"))
    assert figures.main(["--check", "--readme", str(stale)]) == 1
    assert "-stale." in capsys.readouterr().out
