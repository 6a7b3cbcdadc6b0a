#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""learn.py - write docs/LEARN.md by running every command it shows.

LEARN.md walks through the two socket tutorials a chapter at a time and
shows, for each, the sockit commands that make the chapter's point
visible on real sockets, with what they printed when this script ran
them.  Nothing in it is typed by hand: each chapter below is code that
starts the servers, runs the commands, and checks that what they printed
still says what the text claims ("expect").  So:

    scripts/learn.py                 rewrite docs/LEARN.md
    scripts/learn.py --check         run everything, check every claim and
                                     that docs/LEARN.md shows the same
                                     commands; write nothing (make test)
    scripts/learn.py --only NAME     run one chapter (its function name) and
                                     print its Markdown; write nothing
    scripts/learn.py --windows EXE   check the chapters that hold on Windows
                                     with sockit.exe (EXE) under Wine: every
                                     claim, and that their commands are the
                                     ones docs/LEARN.md shows; write nothing

SOCKIT names the binary (default build/sockit).  Servers listen on
127.0.0.1 port 0 and the port the kernel picked is shown as the fixed
port the text uses (7007 and so on), so that every command in LEARN.md
can be pasted as it stands.  Only the standard library is used: this
runs under any python3.
"""
import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "LEARN.md")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from learn_session import ClaimFailed, Session  # noqa: E402
from learn_chapters import CHAPTERS, INTRO  # noqa: E402  (the chapters' text and code)


WINDOWS_NOTE = """\
On Windows, `sockit.exe` takes the same commands: chapters %s are
checked with it under Wine as well (`make test-windows`).  The others use
Linux tools (`ss`, `ps`, `ip netns`), the fork model, or show where
Windows behaves differently, and say so.
"""


def wine_wrapper(exe, bindir):
    """A `sockit` in bindir that runs exe under Wine, so that every command
    of the guide runs as printed.  Wine's prefix is the one make
    test-windows uses."""
    exe = os.path.abspath(exe)
    if not os.path.exists(exe):
        sys.exit("learn.py: %s is missing (make windows)" % exe)
    wine = shutil.which("wine")
    if wine is None:
        sys.exit("learn.py: wine is not installed (apt-get install wine64)")
    path = os.path.join(bindir, "sockit")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec env -u DISPLAY WINEDEBUG=-all WINEPREFIX=%s %s %s \"$@\"\n"
                % (os.environ.get("WINEPREFIX", "/tmp/sockit-wine-%d" % os.getuid()), wine,
                   exe))
    os.chmod(path, 0o755)
    return path


def commands_shown(doc, skipped_sections):
    """The lines of doc, less the sections (by heading words) of chapters
    that did not run here."""
    lines, skipping = [], False
    for line in doc.splitlines():
        if line.startswith("## "):
            skipping = any(words in line for words in skipped_sections)
        if not skipping:
            lines.append(line)
    return lines


def main():
    ap = argparse.ArgumentParser(description="write docs/LEARN.md by running what it shows")
    ap.add_argument("--check", action="store_true",
                    help="check every claim and that docs/LEARN.md is current; write nothing")
    ap.add_argument("--only", help="run one chapter (its function name)")
    ap.add_argument("--output", default=DOC, help="where to write (default docs/LEARN.md)")
    ap.add_argument("--windows", metavar="EXE",
                    help="check the Windows chapters with EXE (sockit.exe) under Wine")
    args = ap.parse_args()
    sockit = os.environ.get("SOCKIT", os.path.join(ROOT, "build", "sockit"))
    wine_bin = None
    if args.windows:
        args.check = True
        wine_bin = tempfile.mkdtemp(prefix="sockit-learn-wine.")
        atexit.register(shutil.rmtree, wine_bin, True)
        sockit = wine_wrapper(args.windows, wine_bin)
    if not os.access(sockit, os.X_OK):
        sys.exit("learn.py: %s is not built (run make)" % sockit)

    on_windows = [str(i + 1) for i, c in enumerate(CHAPTERS) if c.windows]
    parts = [INTRO.strip("\n") + "\n", WINDOWS_NOTE % (
        ", ".join(on_windows[:-1]) + " and " + on_windows[-1])]
    commands = []
    failures = []
    skipped = []
    for chapter in CHAPTERS:
        if args.only and chapter.__name__ != args.only:
            continue
        if args.windows and not getattr(chapter, "windows", False):
            skipped.append(chapter.section)
            continue
        why_root = getattr(chapter, "needs_root", None)
        if why_root and os.geteuid() != 0:
            if not args.check:
                sys.exit("learn.py: chapter %s needs root (%s): run as root to write "
                         "the guide" % (chapter.__name__, why_root))
            print("learn: %-28s skipped: needs root (%s)" % (chapter.__name__, why_root),
                  file=sys.stderr)
            skipped.append(chapter.section)
            continue
        work = tempfile.mkdtemp(prefix="sockit-learn.")
        s = Session(sockit, work, windows=bool(args.windows))
        started = time.monotonic()
        try:
            chapter(s)
        except (ClaimFailed, subprocess.TimeoutExpired) as e:
            failures.append("%s: %s" % (chapter.__name__, e))
        finally:
            s.close()
            shutil.rmtree(work, ignore_errors=True)
        print("learn: %-28s %5.1f s%s" % (chapter.__name__, time.monotonic() - started,
                                         "  FAILED" if failures and failures[-1].startswith(
                                             chapter.__name__ + ":") else ""),
              file=sys.stderr)
        parts.append("\n".join(s.out))
        commands += s.commands
    if failures:
        for f in failures:
            print("learn.py: " + f, file=sys.stderr)
        sys.exit(1)
    if args.only:
        print("\n".join(parts[1:]))  # one chapter: shown, never written
        return
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                doc = f.read()
        except OSError as e:
            sys.exit("learn.py: %s: %s (run scripts/learn.py to write it)" % (args.output, e))
        shown = [l[2:] for l in commands_shown(doc, skipped)
                 if l.startswith("$ ") and l != "$ echo $?"]
        if shown != commands:
            missing = [c for c in commands if c not in shown]
            extra = [c for c in shown if c not in commands]
            sys.exit("learn.py: %s is out of date (run scripts/learn.py): commands not in it: "
                     "%s; in it but no longer run: %s" % (args.output, missing, extra))
        return
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    print("learn: wrote %s" % os.path.relpath(args.output), file=sys.stderr)


if __name__ == "__main__":
    main()
