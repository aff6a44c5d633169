"""The README's CLI commands, as written, in a new shell: a process environment holding only
what the README says to set (the virtualenv on PATH), after `make run`'s step that writes the
development .env (invoked directly: `make .env`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A new shell after `. .venv/bin/activate` (the README's setup): the venv first on PATH.
SHELL_ENV = {
    "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    "HOME": os.environ.get("HOME", "/tmp"),
    "LANG": "C.UTF-8",
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A working copy of the project (its code linked), without .env or instance/."""
    for name in ("app", "migrations", "sandbox", "wsgi.py", "Makefile"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def shell(checkout: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command], cwd=checkout, env=SHELL_ENV, capture_output=True, text=True, timeout=120
    )


def test_without_settings_a_command_names_what_is_missing(checkout):
    result = shell(checkout, "flask --app wsgi worker status")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "Configuration error: Missing required setting(s) for production: "
        "SECRET_KEY, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET."
    )
    assert "make run" in result.stderr


def test_the_readme_commands_work_after_make_run_writes_env(checkout, sandbox_server):
    assert shell(checkout, "make -s .env").returncode == 0
    env_file = checkout / ".env"
    assert "APP_ENV=development" in env_file.read_text()
    # The sandbox of `make run` listens on 12111; this test's sandbox runs on a free port.
    env_file.write_text(env_file.read_text().replace("http://127.0.0.1:12111", sandbox_server.url))
    upgrade = shell(checkout, "flask --app wsgi db upgrade")  # make run's next step
    assert upgrade.returncode == 0, upgrade.stderr

    help_ = shell(checkout, "flask --app wsgi --help")
    assert help_.returncode == 0 and "merchants" in help_.stdout and "config" in help_.stdout

    shown = shell(checkout, "flask --app wsgi config show")
    assert shown.returncode == 0, shown.stderr
    assert "APP_ENV                     development" in shown.stdout
    assert "dev-only-not-secret" not in shown.stdout and "sk_test_****" in shown.stdout

    created = shell(checkout, 'flask --app wsgi merchants create --name "Acme" --allowed-domain shop.example')
    assert created.returncode == 0, created.stderr
    merchant = json.loads(created.stdout)
    assert merchant["api_key"].startswith("mk_")

    hook = shell(
        checkout, f"flask --app wsgi merchants add-webhook {merchant['merchant_id']} http://127.0.0.1:9/h"
    )
    assert hook.returncode == 0, hook.stderr
    assert json.loads(hook.stdout)["secret"].startswith("whsec_")

    reconciled = shell(checkout, "flask --app wsgi payments reconcile")
    assert reconciled.returncode == 0, reconciled.stderr
    assert reconciled.stdout.strip().endswith("0 changed, 0 errors")

    status = shell(checkout, "flask --app wsgi worker status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {"pending": 0, "retrying": 0, "succeeded": 0, "failed": 0}
    assert "[info" not in status.stderr  # no log chatter around a command's answer
