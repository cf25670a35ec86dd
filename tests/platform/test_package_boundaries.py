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
ALLOWED_SENIM = {"senim.database", "senim.audit", "senim.clock", "senim.metrics"}
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


#: Stand-alone packages a bank can take without the platform: what each may import from this repository.
STANDALONE = {
    "resource_proxy/standard": ("resource_proxy.standard",),
    "reference_bank": ("reference_bank", "resource_proxy.standard"),
}
REPO_PACKAGES = ("senim", "idp", "registry", "biometrics", "consent_ui", "resource_proxy", "reference_bank")


@pytest.mark.parametrize("package", sorted(STANDALONE))
def test_the_standard_and_the_reference_bank_stand_alone(package: str) -> None:
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            ours = name.split(".")[0] in REPO_PACKAGES
            if ours and not any(name == a or name.startswith(a + ".") for a in STANDALONE[package]):
                offending.append(f"{path.relative_to(ROOT)}: {name}")
            if package == "resource_proxy/standard" and name.split(".")[0] in ("flask", "werkzeug"):
                offending.append(f"{path.relative_to(ROOT)}: {name}")
    assert offending == []
