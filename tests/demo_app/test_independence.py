"""Qarjy is an API user like any other: it reaches the platform over HTTP only."""

from __future__ import annotations

import subprocess
import sys

PLATFORM_PACKAGES = (
    "senim",
    "idp",
    "registry",
    "consent_ui",
    "biometrics",
    "resource_proxy",
    "reference_bank",
)


def test_the_demo_app_imports_nothing_of_the_platform() -> None:
    code = (
        "import sys, demo_app, demo_app.views, demo_app.__main__\n"
        f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {PLATFORM_PACKAGES!r})\n"
        "print(','.join(leaked))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
