"""biometrics/ is a library: images in, decisions out, no HTTP (DESIGN.md, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent.parent / "biometrics"
# The platform helpers biometrics may use; everything else of senim/ is off limits.
ALLOWED_SENIM = {"senim.database", "senim.audit", "senim.clock"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_biometrics_imports_no_web_framework_and_only_shared_platform_helpers() -> None:
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            helper = ".".join(name.split(".")[:2])
            if top in ("flask", "werkzeug", "jinja2", "idp", "consent_ui", "resource_proxy", "registry") or (
                top == "senim" and helper not in ALLOWED_SENIM
            ):
                offending.append(f"{path.relative_to(PACKAGE.parent)}: {name}")
    assert offending == []
