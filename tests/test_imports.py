"""The package's layering, checked on the source: a violation fails with the offending line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "src" / "empathylab"
WINGS = ("gaps", "llmpathy")
#: Top-level modules both parts use; they import neither wing nor the LLM layer.
SHARED = ("data", "metrics", "errors", "cache", "verdicts", "prose", "tables")
#: Known exceptions, each with its reason.
ALLOWED = {
    # profiles validates Part I's names (groupings, variations, identities) when a profile
    # loads; it imports them inside the validators, so no wing is imported with profiles.
    ("profiles", "empathylab.gaps.design"),
}


def _modules(package: Path) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        out.append((name, path))
    return out


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """Return (line, module, names) for every import of an empathylab module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("empathylab"):
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("empathylab")]
    return found


def _targets(module: str, names: list[str]) -> list[str]:
    """The modules an import reaches: ``from empathylab import gaps`` reaches ``gaps``."""
    inner = module.removeprefix("empathylab").lstrip(".")
    if not inner:
        return names
    return [inner] + [f"{inner}.{n}" for n in names]


def _violations(package: Path = PACKAGE) -> list[str]:
    problems = []
    for name, path in _modules(package):
        where = path.relative_to(package.parents[1])
        top = name.split(".")[0]
        for line, module, names in _imports(path):
            reached = _targets(module, names)
            heads = {t.split(".")[0] for t in reached}
            if (name, module) in ALLOWED:
                continue
            if top == "llm" and heads & set(WINGS):
                problems.append(f"{where}:{line}: the LLM layer imports a wing ({module})")
            for wing in WINGS:
                other = next(w for w in WINGS if w != wing)
                if top == wing and other in heads:
                    problems.append(f"{where}:{line}: wing {wing} imports wing {other} ({module})")
            if "cli" in heads:
                problems.append(f"{where}:{line}: imports the CLI ({module})")
            if top in SHARED and heads & {"llm", *WINGS}:
                problems.append(f"{where}:{line}: shared module {name} imports {module}")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                problems.append(f"{where}:{line}: imports private {', '.join(private)} from {module}")
    return problems


def test_the_layers_hold():
    assert _violations() == []


@pytest.mark.parametrize(
    "module, source, message",
    [
        ("llm/bad.py", "from empathylab.gaps import design\n", "the LLM layer imports a wing"),
        ("gaps/bad.py", "from empathylab import llmpathy\n", "wing gaps imports wing llmpathy"),
        ("llmpathy/bad.py", "import empathylab.gaps.runner\n", "wing llmpathy imports wing gaps"),
        ("data_bad.py", "from empathylab.cli import main\n", "imports the CLI"),
        ("gaps/bad.py", "from empathylab.llm.weights import _pick\n", "imports private _pick"),
        ("metrics.py", "from empathylab.llm import Request\n", "shared module metrics imports"),
    ],
)
def test_each_rule_catches_its_violation(tmp_path, module, source, message):
    package = tmp_path / "src" / "empathylab"
    (package / module).parent.mkdir(parents=True, exist_ok=True)
    (package / module).write_text(source)
    problems = _violations(package)
    assert len(problems) == 1 and message in problems[0] and module in problems[0]
