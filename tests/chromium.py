"""Debian's Chromium for the browser tests: found or installed, and started headless."""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling hosts this closed
# network refuses. Each run gets a new empty profile folder (browser_context).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]




def ensure_chromium():
    """Installs Debian's chromium when missing and possible; else skips, saying why."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here: "
                    "installing Debian's chromium needs root and apt-get")
    install = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(install, capture_output=True, text=True, env=environment)
    if result.returncode != 0:  # often a stale or missing package list
        subprocess.run(["apt-get", "update", "-q"], capture_output=True,
                       env=environment)
        result = subprocess.run(install, capture_output=True, text=True,
                                env=environment)
    if result.returncode != 0:
        pytest.skip(f"{CHROMIUM} is missing and 'apt-get install chromium' failed "
                    f"(exit {result.returncode}): {result.stderr.strip()[-500:]}")
    if not CHROMIUM.exists():
        pytest.skip(f"apt-get installed chromium, but {CHROMIUM} is still missing")


@contextlib.contextmanager
def chromium(profile_dir):
    """A headless Chromium browser context, with an empty profile in `profile_dir`."""
    from playwright.sync_api import sync_playwright

    ensure_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)
        try:
            yield context
        finally:
            context.close()
