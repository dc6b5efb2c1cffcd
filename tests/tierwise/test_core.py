"""The core (`tierwise` minus `tierwise.shell`) imports no domain package."""

import subprocess
import sys

DOMAIN = ("features", "simulation", "rules", "training", "serving")


def test_core_imports_no_domain_package() -> None:
    script = (
        "import sys, tierwise, tierwise.errors, tierwise.settings, tierwise.logs; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {DOMAIN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shell_reaches_every_package() -> None:
    script = (
        "import sys, tierwise.shell.cli; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({DOMAIN!r})))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(DOMAIN))
