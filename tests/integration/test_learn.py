# SPDX-License-Identifier: BSD-2-Clause
"""docs/LEARN.md stays true: scripts/learn.py runs every command the guide
shows against the real binary and checks that each still prints what the
text says it prints, and that the guide shows the commands it runs."""
import os
import subprocess
import sys

from conftest import SOCKIT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_command_in_learn_md_shows_what_the_text_says():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "learn.py"), "--check"],
                       env=dict(os.environ, SOCKIT=SOCKIT), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out


def test_trace_guide_matches_what_sockit_does():
    # docs/TRACE.md: exact traces (times, ports, pids masked), compared whole.
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "learn_trace.py"),
                        "--check"], env=dict(os.environ, SOCKIT=SOCKIT), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    assert p.returncode == 0, "docs/TRACE.md is out of date (make learn):\n%s" % (
        p.stdout.decode("utf-8", "replace"))
