# SPDX-License-Identifier: BSD-2-Clause
"""learn_session.py - what scripts/learn.py's chapters are written with:
a Session starts servers on port 0 (shown as fixed ports), runs commands,
records them with what they printed as Markdown, and checks each claim."""
import os
import re
import shlex
import signal
import subprocess
import time

READY = re.compile(r"^listening on (\S+) port (\d+) ")


class ClaimFailed(Exception):
    pass


class Server:
    """A `sockit serve` in the background, shown as `... -p SHOWN &`."""

    def __init__(self, session, args, shown_port, env=None, real_port=0):
        self.session = session
        self.shown_port = shown_port
        self.args = args
        run = [session.sockit, "serve"] + args + ["-l", "127.0.0.1", "-p", str(real_port)]
        self.log_path = os.path.join(session.work, "server-%d.log" % len(session.servers))
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(run, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd=session.work,
                                     env=dict(session.env, **(env or {})),
                                     start_new_session=True)
        session.servers.append(self)
        deadline = time.monotonic() + 10
        self.port = None
        while self.port is None:
            for line in self.text().splitlines():
                m = READY.match(line)
                if m:
                    self.port = int(m.group(2))
            if self.port is None:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise ClaimFailed("server %s did not start:\n%s" % (args, self.text()))
                time.sleep(0.02)
        session.ports[self.port] = shown_port

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=None):
        # Under Wine SIGTERM ends a process at once; SIGINT is the console
        # Ctrl-C that sockit.exe handles (and logs its last lines on).
        if sig is None:
            sig = signal.SIGINT if self.session.windows else signal.SIGTERM
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log_file.close()
        return self.proc.returncode


class Background:
    """A shell command started by Session.background()."""

    def __init__(self, proc, log_path, log_file):
        self.proc, self.log_path, self.log_file = proc, log_path, log_file
        self.shown_len = 0  # how much of the output was shown when it started

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Session:
    """One chapter's run: its servers, its commands, the Markdown it makes."""

    def __init__(self, sockit, work, windows=False):
        self.sockit = sockit
        self.work = work
        self.windows = windows   # sockit is a wrapper that runs sockit.exe under Wine
        self.servers = []
        self.ports = {}          # real port -> the port the text shows
        self.out = []            # Markdown lines
        self.commands = []       # every command shown, for --check
        self.cleanups = []       # shell commands close() runs (not shown)
        self.aliases = {}        # a name the text shows -> the name really used
        bindir = os.path.dirname(os.path.abspath(sockit))
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                        LC_ALL="C.UTF-8", TZ="UTC")

    # -- text ---------------------------------------------------------------
    def say(self, text):
        self.out.append(text.strip("\n") + "\n")

    def notice(self, text):
        self.out.append("**What to notice:** " + text.strip() + "\n")

    def alias(self, shown, real):
        """Show real (a namespace's unique name, say) as shown, and run
        commands that say shown with real."""
        self.aliases[shown] = real

    def _real(self, command):
        """A command as it is run: the servers' real ports, the aliases."""
        for r, shown in self.ports.items():
            command = re.sub(r"(?<![\d.])%d(?!\d)" % shown, str(r), command)
        for shown, r in self.aliases.items():
            command = command.replace(shown, r)
        return command

    def _shown(self, text):
        """Real ports as the ports the text uses, and the aliases."""
        for shown, r in self.aliases.items():
            text = text.replace(r, shown)
        for real, shown in sorted(self.ports.items(), key=lambda kv: -len(str(kv[0]))):
            text = re.sub(r"(?<![\d.])%d(?!\d)" % real, str(shown), text)
        return text

    def _block(self, lines):
        self.out.append("```console\n" + "\n".join(lines).rstrip("\n") + "\n```\n")

    # -- running --------------------------------------------------------------
    def serve(self, args, shown_port, show=True, env=None, again=None):
        """Start `sockit serve ARGS` in the background; show it with its
        ready line unless show is false.  again: a stopped Server whose
        port this one binds (the text shows it as the same port)."""
        srv = Server(self, shlex.split(args), shown_port, env,
                     real_port=again.port if again else 0)
        cmd = "sockit serve %s -l 127.0.0.1 -p %d &" % (args, shown_port)
        self.commands.append(cmd)
        if show:
            first = srv.text().splitlines()[0]
            self._block(["$ " + cmd, self._shown(first)])
        return srv

    def run(self, command, expect=(), reject=(), status=0, timeout=30, show=True,
            stdin=None, keep=None):
        """Run a shell command (with sockit on PATH and {PORT} names of
        the servers' shown ports replaced by the real ones), show it and
        what it printed, and check each expect regex matches the output,
        no reject regex does, and the exit status is status (None: any).
        keep: a function that trims what is shown (the checks see all)."""
        real = self._real(command)
        if show:
            self.commands.append(command)
        p = subprocess.run(["bash", "-c", real], cwd=self.work, env=self.env,
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        text = self._shown(p.stdout.decode("utf-8", "replace"))
        self.check(text, expect, reject, "`%s`" % command)
        if status is not None and p.returncode != status:
            raise ClaimFailed("`%s` exited %d, not %d:\n%s" % (command, p.returncode, status, text))
        if show:
            shown = keep(text) if keep else text
            lines = ["$ " + command] + shown.rstrip("\n").splitlines()
            if status:
                lines.append("$ echo $?")
                lines.append(str(p.returncode))
            self._block(lines)
        return text

    def background(self, command, ready, timeout=10):
        """Start a shell command in the background, shown as `COMMAND &`,
        and wait until its output matches the regex ready.  Its output is
        shown, and checked, by output_of()."""
        self.commands.append(command + " &")
        log_path = os.path.join(self.work, "background-%d.log" % len(self.servers))
        log_file = open(log_path, "wb")
        proc = subprocess.Popen(["bash", "-c", self._real(command)], cwd=self.work, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
        job = Background(proc, log_path, log_file)
        self.servers.append(job)
        deadline = time.monotonic() + timeout
        while not re.search(ready, job.text(), re.M):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ClaimFailed("`%s` did not get ready:\n%s" % (command, job.text()))
            time.sleep(0.02)
        first = job.text()
        job.shown_len = len(first)
        self._block(["$ " + command + " &"] + self._shown(first).splitlines())
        return job

    def output_of(self, job, expect=(), reject=(), status=0, timeout=10, title=None):
        """Wait for a background command to end; show and check what it
        printed after its first lines (shown when it started)."""
        try:
            job.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ClaimFailed("a background command did not end within %d s:\n%s"
                              % (timeout, job.text()))
        job.log_file.close()
        whole = job.text()
        text = self._shown(whole)
        self.check(text, expect, reject, "the background command's output")
        if status is not None and job.proc.returncode != status:
            raise ClaimFailed("a background command exited %d, not %d:\n%s"
                              % (job.proc.returncode, status, text))
        if title:
            self.say(title)
        self._block(self._shown(whole[job.shown_len:]).rstrip("\n").splitlines())
        return text

    def log_of(self, srv, expect=(), reject=(), keep=None, title=None):
        """Stop srv and show what it printed (its trace, its log)."""
        srv.stop()
        text = self._shown(srv.text())
        self.check(text, expect, reject, "the server's output")
        shown = keep(text) if keep else text
        if title:
            self.say(title)
        self._block(shown.rstrip("\n").splitlines())
        return text

    def check(self, text, expect, reject, what):
        for rx in expect:
            if not re.search(rx, text, re.M):
                raise ClaimFailed("%s no longer prints what the text says (%r):\n%s"
                                  % (what, rx, text))
        for rx in reject:
            if re.search(rx, text, re.M):
                raise ClaimFailed("%s printed what the text says it does not (%r):\n%s"
                                  % (what, rx, text))

    def close(self):
        for command in self.cleanups:
            subprocess.run(["bash", "-c", self._real(command)], cwd=self.work, env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        for srv in self.servers:
            if srv.proc.poll() is None:
                try:
                    os.killpg(srv.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                srv.proc.wait(5)
            if not srv.log_file.closed:
                srv.log_file.close()


def lines_matching(*patterns, limit=None):
    """A keep function: only the lines matching one of the patterns."""
    def keep(text):
        out = [l for l in text.splitlines() if any(re.search(p, l) for p in patterns)]
        return "\n".join(out[:limit] if limit else out)
    return keep


def head(n):
    return lambda text: "\n".join(text.splitlines()[:n])


