"""The documentation a fresh clone carries: a short README, and nothing that points outside the
repository (the method description lives in docs/, not in a file only its developers have)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|\bSTYLE\.md\b|\bDFARD\.md\b|\bDEVELOPERS\.md\b")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    paths = [ROOT / n for n in names.split() if n.endswith((".py", ".md", ".yaml", ".toml", ".sh", ".txt"))]
    return [p for p in paths if p.is_file() and p.name != Path(__file__).name]


def test_nothing_points_outside_the_repository():
    found = [f"{p.relative_to(ROOT)}:{i}" for p in tracked_text_files()
             for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if OUTSIDE.search(line)]
    assert not found, found


def test_readme_is_short_and_every_local_link_exists():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    linked = set(re.findall(r"`((?:docs|benchmarks|configs)/[\w./-]+\.(?:md|yaml))`", text))
    assert linked and not [name for name in sorted(linked) if not (ROOT / name).exists()]


PATH_IN_DOCS = re.compile(r"`((?:pipeline|runtime|export|configs|benchmarks|docs|tests|results)/[\w./*-]+)`")


def test_every_path_a_doc_names_exists():
    """README, docs/, configs/devices/README.md and benchmarks/README.md name files by path; each must
    exist (a glob must match something), so a moved module cannot leave a stale pointer behind."""
    docs = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / "configs" / "devices" / "README.md",
            *sorted((ROOT / "docs").glob("*.md"))]
    missing = []
    for doc in docs:
        for name in PATH_IN_DOCS.findall(doc.read_text()):
            name = name.rstrip(".")
            if name.startswith("results/"):  # benchmarks/README.md names its results relative to itself
                name = "benchmarks/" + name
            if name.startswith("benchmarks/results/") and "*" not in name and not name.endswith((".md", ".json")):
                continue
            if not (list(ROOT.glob(name)) if "*" in name else (ROOT / name).exists()):
                missing.append(f"{doc.relative_to(ROOT)}: {name}")
    assert not missing, missing
