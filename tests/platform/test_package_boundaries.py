"""Dependencies point one way (DESIGN.md, Layout): consent_ui → idp → registry, biometrics.

biometrics/ is a library (images in, decisions out, no HTTP); registry/ is
asked questions by the idp and the resource proxy and asks them none. Both
may use only the shared platform helpers of senim/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
ALLOWED_SENIM = {"senim.database", "senim.audit", "senim.clock"}
FORBIDDEN = {
    "biometrics": ("flask", "werkzeug", "jinja2", "idp", "consent_ui", "resource_proxy", "registry"),
    "registry": ("idp", "consent_ui", "resource_proxy"),
}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_is_below_it(package: str) -> None:
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            helper = ".".join(name.split(".")[:2])
            if top in FORBIDDEN[package] or (top == "senim" and helper not in ALLOWED_SENIM):
                offending.append(f"{path.relative_to(ROOT)}: {name}")
    assert offending == []
