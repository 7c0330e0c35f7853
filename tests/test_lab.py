"""The lab VM and CI share one provisioning script; the Vagrantfile is valid; provisioning is idempotent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVISION = ROOT / "scripts" / "provision.sh"


def _calls_provision(text: str) -> bool:
    """Whether a file runs scripts/provision.sh (a comment mentioning it does not count)."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return re.search(r"scripts/provision\.sh", code) is not None


def test_vagrantfile_and_ci_both_call_the_provisioning_script():
    assert _calls_provision((ROOT / "Vagrantfile").read_text())
    assert _calls_provision((ROOT / ".ci" / "run").read_text())


def test_a_comment_is_not_a_call():
    assert not _calls_provision("# scripts/provision.sh\napt-get install -y mininet\n")


def test_provision_script_is_valid_bash_with_help():
    assert subprocess.run(["bash", "-n", str(PROVISION)], check=False).returncode == 0
    out = subprocess.run(["bash", str(PROVISION), "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "--system" in out and "--check" in out
    bad = subprocess.run(["bash", str(PROVISION), "--bogus"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed (.ci/run installs it)")
def test_vagrant_validates_the_vagrantfile():
    env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1"}
    ok = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=ROOT,
                         env={**env, "EDGEROAM_SYNC": "ftp"}, capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode != 0 and "EDGEROAM_SYNC" in bad.stdout + bad.stderr


@pytest.mark.net
@pytest.mark.skipif(os.geteuid() != 0, reason="provisioning checks need root")
@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_a_provisioned_machine_needs_no_change():
    """CI provisions before the tests: a second pass (here in --check mode) must find nothing to change."""
    p = subprocess.run(["bash", str(PROVISION), "--system", "--check"], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "check: 0 change(s) needed" in p.stdout
