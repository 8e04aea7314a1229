"""The exec shell: a small POSIX-ish ``sh`` interpreted in Python over a container's filesystem view.

kubesim never runs a command from a pod spec on the host. ``kubectl exec``,
exec probes and containers whose command only uses what this shell knows
(``sh -c 'echo hi > /data/x && sleep 2; exit 3'``) run here instead: every
path goes through the container's mount table (:mod:`kubesim.runtime.fs`), so
a write to a PVC mount lands in the PV's directory and ``..`` never leaves
the container's ``/``.

Language: words with single/double quotes and backslash escapes; ``$VAR``,
``${VAR}``, ``${VAR:-x}``, ``${#VAR}``, ``$?``, ``$$``, ``$#``, ``$1``.., ``$@``;
``$(cmd)`` and backquote substitution; ``$((arithmetic))``; globs (``*``, ``?``,
``[...]``); redirections ``>``, ``>>``, ``<``, ``2>``, ``2>&1``, ``>&2``,
``&>``; pipes; ``&&``, ``||``, ``;``, ``!``; ``{ ...; }`` and ``( ... )``;
``if/elif/else/fi``, ``while``/``until``, ``for``, ``break``/``continue``;
``VAR=x cmd``; ``set -e``. Pipelines run one stage after the other (each
stage's output is the next one's input) and ``&`` runs a command in the
foreground: there are no concurrent jobs.

Modules: :mod:`~kubesim.runtime.shell_syntax` (lexer, parser), this one
(I/O, the interpreter, ``can_run``), :mod:`~kubesim.runtime.shell_commands`
(the commands, registered in :data:`COMMANDS`). Anything else exits 127 with
``sh: NAME: not found`` and a line listing what is supported. A path to a
file holding a shell script (a ConfigMap-mounted ``/scripts/init.sh``) runs
as a script.
"""

from __future__ import annotations

import ast
import fnmatch
import operator
import os
import posixpath
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from .fs import ContainerFS, FsError, normalize
from .shell_syntax import (_ASSIGN, AndOr, For, Group, If, Incomplete, Loop, Pipeline, Redir, Redirected, Seq,
                           ShellSyntaxError, Simple, _scan_dollar, _scan_dquote, parse)

Resolver = Callable[[str], "list[str] | None"]

# ------------------------------------------------------------------------------------------
# I/O
# ------------------------------------------------------------------------------------------


class Input:
    """A command's standard input (blocking reads; ``b""`` at end of input)."""

    def read(self) -> bytes:  # everything up to EOF
        out = []
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return b"".join(out)
            out.append(chunk)

    def read_chunk(self) -> bytes:
        return b""

    def readline(self) -> bytes:
        return b""


class BytesInput(Input):
    def __init__(self, data: bytes = b"") -> None:
        self._data = data
        self._pos = 0

    def read_chunk(self) -> bytes:
        out = self._data[self._pos:]
        self._pos = len(self._data)
        return out

    def readline(self) -> bytes:
        i = self._data.find(b"\n", self._pos)
        end = len(self._data) if i < 0 else i + 1
        out = self._data[self._pos:end]
        self._pos = end
        return out


class PipeInput(Input):
    """Standard input fed from another thread (``kubectl exec -i``): ``feed()`` then ``close()``."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._q: "queue.Queue[bytes | None]" = queue.Queue()
        self._buf = b""
        self._eof = False
        self._stop = stop

    def feed(self, data: bytes) -> None:
        if data:
            self._q.put(data)

    def close(self) -> None:
        self._q.put(None)

    def _more(self) -> bool:
        if self._eof:
            return False
        while True:
            try:
                item = self._q.get(timeout=0.1)
            except queue.Empty:
                if self._stop is not None and self._stop.is_set():
                    raise Stopped()
                continue
            if item is None:
                self._eof = True
                return False
            self._buf += item
            return True

    def read_chunk(self) -> bytes:
        if not self._buf and not self._more():
            return b""
        out, self._buf = self._buf, b""
        return out

    def readline(self) -> bytes:
        while b"\n" not in self._buf:
            if not self._more():
                out, self._buf = self._buf, b""
                return out
        i = self._buf.index(b"\n") + 1
        out, self._buf = self._buf[:i], self._buf[i:]
        return out


class Output:
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class BufferOutput(Output):
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        if data:
            self.parts.append(data)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class CallbackOutput(Output):
    def __init__(self, fn: Callable[[bytes], None]) -> None:
        self.fn = fn

    def write(self, data: bytes) -> None:
        if data:
            self.fn(data)


class _FileOutput(Output):
    def __init__(self, f) -> None:  # noqa: ANN001
        self.f = f

    def write(self, data: bytes) -> None:
        self.f.write(data)

    def close(self) -> None:
        try:
            self.f.flush()
            os.fsync(self.f.fileno())
        finally:
            self.f.close()


class NullOutput(Output):
    def write(self, data: bytes) -> None:
        pass


@dataclass
class IO:
    stdin: Input
    stdout: Output
    stderr: Output
    tty: bool = False

    def out(self, text: str) -> None:
        self.stdout.write(text.encode("utf-8", "surrogateescape"))

    def err(self, text: str) -> None:
        self.stderr.write(text.encode("utf-8", "surrogateescape"))


# ------------------------------------------------------------------------------------------
# Control flow signals
# ------------------------------------------------------------------------------------------


class ShellExit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class Stopped(Exception):
    """The container is being stopped (SIGTERM) or the exec session went away."""


class _Break(Exception):
    def __init__(self, n: int = 1) -> None:
        self.n = n


class _Continue(Exception):
    def __init__(self, n: int = 1) -> None:
        self.n = n


# ------------------------------------------------------------------------------------------
# Static check: can a container command run in this shell?
# ------------------------------------------------------------------------------------------

_SHELLS = ("sh", "ash", "bash", "dash")
_BIN_DIRS = ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin")


def command_name(word: str) -> str:
    """``/bin/echo`` -> ``echo`` (only standard binary directories are looked through)."""
    if "/" in word and posixpath.dirname(word) in _BIN_DIRS:
        return posixpath.basename(word)
    return word


def _names(node) -> Iterable[str | None]:  # noqa: ANN001
    if isinstance(node, Seq):
        for it in node.items:
            yield from _names(it)
    elif isinstance(node, AndOr):
        yield from _names(node.first)
        for _, p in node.rest:
            yield from _names(p)
    elif isinstance(node, Pipeline):
        for c in node.cmds:
            yield from _names(c)
    elif isinstance(node, Redirected):
        yield from _names(node.node)
    elif isinstance(node, If):
        for c, b in node.clauses:
            yield from _names(c)
            yield from _names(b)
        if node.else_ is not None:
            yield from _names(node.else_)
    elif isinstance(node, Loop):
        yield from _names(node.cond)
        yield from _names(node.body)
    elif isinstance(node, For):
        yield from _names(node.body)
    elif isinstance(node, Group):
        yield from _names(node.body)
    elif isinstance(node, Simple):
        if node.words:
            w = node.words[0]
            yield w if re.match(r"^[A-Za-z0-9_./\[:-]+$", w) else None
            name = command_name(w)
            if name in _SHELLS and len(node.words) >= 3 and node.words[1] == "-c":
                inner = _literal(node.words[2])
                if inner is None:
                    yield None
                else:
                    try:
                        yield from _names(parse(inner))
                    except ShellSyntaxError:
                        yield None
            elif name in ("exec", "env", "nice", "nohup", "timeout") and len(node.words) > 1:
                rest = [x for x in node.words[1:] if not _ASSIGN.match(x) and not x.startswith("-")]
                if name == "timeout" and rest:
                    rest = rest[1:]
                if rest:
                    yield rest[0] if re.match(r"^[A-Za-z0-9_./\[:-]+$", rest[0]) else None


def _literal(word: str) -> str | None:
    """The value of a word with quotes but no expansions; None if it expands anything."""
    out = []
    i, n = 0, len(word)
    while i < n:
        c = word[i]
        if c == "'":
            k = word.index("'", i + 1)
            out.append(word[i + 1:k])
            i = k + 1
        elif c == '"':
            k = _scan_dquote(word, i)
            inner = word[i + 1:k]
            if "$" in inner or "`" in inner:
                return None
            out.append(re.sub(r'\\([$`"\\\n])', r"\1", inner))
            i = k + 1
        elif c == "\\" and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif c in "$`":
            return None
        else:
            out.append(c)
            i += 1
    return "".join(out)


def can_run(argv: list[str]) -> bool:
    """True if a container command uses only what this shell implements (so it runs here)."""
    if not argv:
        return False
    name = command_name(argv[0])
    if name in _SHELLS:
        if len(argv) >= 3 and argv[1] == "-c":
            try:
                tree = parse(argv[2])
            except ShellSyntaxError:
                return False
            return all(n is not None and (command_name(n) in COMMANDS) for n in _names(tree))
        return len(argv) == 1
    if name in ("exec", "env"):
        rest = [a for a in argv[1:] if not _ASSIGN.match(a) and not a.startswith("-")]
        return not rest or can_run(rest)
    return name in COMMANDS and name not in ("nslookup", "getent")


# ------------------------------------------------------------------------------------------
# Interpreter
# ------------------------------------------------------------------------------------------


@dataclass
class Segment:
    text: str
    quoted: bool
    expanded: bool = False


class Shell:
    """One shell process: variables, working directory, options; ``run_*`` execute code."""

    def __init__(self, fs: ContainerFS, env: dict[str, str] | None = None, *, hostname: str = "localhost",
                 fqdn: str = "", pod_ip: str = "", search: list[str] | None = None,
                 resolvers: list[Resolver] | None = None, stop: threading.Event | None = None,
                 cwd: str = "/", now: Callable[[], float] = time.time) -> None:
        self.fs = fs
        self.env: dict[str, str] = dict(env or {})
        self.vars: dict[str, str] = dict(self.env)
        self.exported: set[str] = set(self.env)
        self.hostname = hostname
        self.fqdn = fqdn or hostname
        self.pod_ip = pod_ip
        self.search = list(search or [])
        self.resolvers = resolvers if resolvers is not None else []
        self.stop = stop or threading.Event()
        self.cwd = normalize(cwd or "/")
        self.status = 0
        self.args: list[str] = []
        self.argv0 = "sh"
        self.errexit = False
        self.xtrace = False
        self._no_errexit = 0
        self.now = now
        self.vars.setdefault("PWD", self.cwd)
        self.vars.setdefault("HOME", "/root")
        self.vars.setdefault("IFS", " \t\n")

    # -- entry points ------------------------------------------------------------------
    def run_script(self, src: str, io: IO) -> int:
        try:
            tree = parse(src)
        except ShellSyntaxError as exc:
            io.err(f"{self.argv0}: {exc}\n")
            return 2
        try:
            return self.exec_seq(tree, io)
        except ShellExit as e:
            return e.code
        except (_Break, _Continue):
            return self.status

    def run_argv(self, argv: list[str], io: IO) -> int:
        """Run a command line given as argv (exec, a container's command/args)."""
        try:
            return self.exec_argv(list(argv), io, {})
        except ShellExit as e:
            return e.code

    def run_interactive(self, io: IO, tty: bool = False) -> int:
        """``sh`` reading commands from stdin, executing each complete command as it arrives.

        With a terminal (``kubectl exec -it``) it also plays the terminal's line
        discipline: echo, backspace, Enter as ``\r``, Ctrl-C drops the line, Ctrl-D
        on an empty line ends the session; and it prints a ``/ # `` prompt.
        """
        lines = self._tty_lines(io) if tty else iter(io.stdin.readline, b"")
        pending = ""
        if tty:
            io.out("/ # ")
        for line in lines:
            if line == b"\x03":
                pending = ""
                io.out("/ # ")
                continue
            pending += line.decode("utf-8", "surrogateescape")
            try:
                tree = parse(pending)
            except Incomplete:
                if tty:
                    io.out("> ")
                continue
            except ShellSyntaxError as exc:
                io.err(f"{self.argv0}: {exc}\n")
                pending = ""
                self.status = 2
            else:
                pending = ""
                try:
                    self.exec_seq(tree, io)
                except ShellExit as e:
                    return e.code
                except (_Break, _Continue):
                    pass
            if tty:
                io.out("/ # ")
        if pending.strip():
            return self.run_script(pending, io)
        return self.status

    @staticmethod
    def _tty_lines(io: IO) -> Iterable[bytes]:
        buf = bytearray()
        while True:
            chunk = io.stdin.read_chunk()
            if not chunk:
                return
            for b in chunk:
                if b in (10, 13):
                    io.stdout.write(b"\n")
                    yield bytes(buf) + b"\n"
                    buf.clear()
                elif b in (8, 127):
                    if buf:
                        buf.pop()
                        io.stdout.write(b"\b \b")
                elif b == 3:
                    io.stdout.write(b"^C\n")
                    buf.clear()
                    yield b"\x03"
                elif b == 4:
                    if not buf:
                        return
                else:
                    buf.append(b)
                    io.stdout.write(bytes([b]))

    # -- helpers -----------------------------------------------------------------------
    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped()

    def subshell(self) -> "Shell":
        s = Shell(self.fs, {}, hostname=self.hostname, fqdn=self.fqdn, pod_ip=self.pod_ip, search=self.search,
                  resolvers=self.resolvers, stop=self.stop, cwd=self.cwd, now=self.now)
        s.vars = dict(self.vars)
        s.exported = set(self.exported)
        s.status = self.status
        s.args = list(self.args)
        s.argv0 = self.argv0
        s.errexit = self.errexit
        s._current_stderr = getattr(self, "_current_stderr", None)
        return s

    def child(self) -> "Shell":
        """A new ``sh`` process: it inherits only the exported variables."""
        s = self.subshell()
        env = self.environ()
        s.vars = dict(env)
        s.exported = set(env)
        s.vars.setdefault("HOME", "/root")
        s.vars.setdefault("IFS", " \t\n")
        s.vars["PWD"] = s.cwd
        s.errexit = False
        s.args = []
        return s

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: self.vars[k] for k in self.exported if k in self.vars}
        env.update(extra or {})
        return env

    def lookup_host(self, name: str) -> tuple[str, list[str]] | None:
        """Resolve a host name like the pod's resolver would (search path, ndots:5)."""
        absolute = name.endswith(".")
        name = name.rstrip(".").lower()
        if not name:
            return None
        if name in ("localhost", "localhost.localdomain"):
            return "localhost", ["127.0.0.1"]
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
            return name, [name]
        if self.pod_ip and name in (self.hostname.lower(), self.fqdn.lower()):
            return self.fqdn, [self.pod_ip]
        if absolute:
            candidates = [name]
        elif name.count(".") >= 5:
            candidates = [name] + [f"{name}.{s}" for s in self.search]
        else:
            candidates = [f"{name}.{s}" for s in self.search] + [name]
        for cand in candidates:
            for resolver in list(self.resolvers):
                try:
                    ips = resolver(cand)
                except Exception:
                    ips = None
                if ips:
                    return cand, list(ips)
        return None

    # -- execution ---------------------------------------------------------------------
    def exec_seq(self, seq: Seq, io: IO) -> int:
        status = 0
        for item in seq.items:
            status = self.exec_and_or(item, io)
        return status

    def exec_and_or(self, node: AndOr, io: IO) -> int:
        guarded = bool(node.rest)
        if guarded:
            self._no_errexit += 1
        try:
            status = self.exec_pipeline(node.first, io)
            for i, (op, p) in enumerate(node.rest):
                if (op == "&&" and status == 0) or (op == "||" and status != 0):
                    last = i == len(node.rest) - 1
                    if last:
                        self._no_errexit -= 1
                        guarded = False
                    status = self.exec_pipeline(p, io)
        finally:
            if guarded:
                self._no_errexit -= 1
        self.status = status
        return status

    def _errexit(self, status: int, negate: bool = False) -> None:
        if self.errexit and status != 0 and not self._no_errexit and not negate:
            raise ShellExit(status)

    def exec_pipeline(self, p: Pipeline, io: IO) -> int:
        if p.negate:
            self._no_errexit += 1
        try:
            if len(p.cmds) == 1:
                status = self.exec_command(p.cmds[0], io)
            else:
                data = None
                status = 0
                for i, cmd in enumerate(p.cmds):
                    stdin = io.stdin if data is None else BytesInput(data)
                    last = i == len(p.cmds) - 1
                    out = io.stdout if last else BufferOutput()
                    sub = self.subshell() if not last else self
                    try:
                        status = sub.exec_command(cmd, IO(stdin, out, io.stderr))
                    except ShellExit as e:
                        status = e.code
                    if not last:
                        data = out.getvalue()  # type: ignore[union-attr]
        finally:
            if p.negate:
                self._no_errexit -= 1
        if p.negate:
            status = 0 if status != 0 else 1
        self.status = status
        if not p.negate and len(p.cmds) >= 1:
            self._errexit(status)
        return status

    def exec_command(self, node, io: IO) -> int:  # noqa: ANN001
        self.check_stop()
        self._current_stderr = io.stderr
        if isinstance(node, Simple):
            return self.exec_simple(node, io)
        if isinstance(node, Redirected):
            try:
                rio, closers = self.apply_redirs(node.redirs, io)
            except FsError as exc:
                io.err(f"{self.argv0}: {exc}\n")
                return 1
            try:
                return self.exec_command(node.node, rio)
            finally:
                for c in closers:
                    c.close()
        if isinstance(node, If):
            for cond, body in node.clauses:
                self._no_errexit += 1
                try:
                    st = self.exec_seq(cond, io)
                finally:
                    self._no_errexit -= 1
                if st == 0:
                    return self.exec_seq(body, io)
            if node.else_ is not None:
                return self.exec_seq(node.else_, io)
            return 0
        if isinstance(node, Loop):
            status = 0
            while True:
                self.check_stop()
                self._no_errexit += 1
                try:
                    st = self.exec_seq(node.cond, io)
                finally:
                    self._no_errexit -= 1
                if (st == 0) == node.until:
                    break
                try:
                    status = self.exec_seq(node.body, io)
                except _Break as b:
                    if b.n > 1:
                        raise _Break(b.n - 1)
                    break
                except _Continue as c:
                    if c.n > 1:
                        raise _Continue(c.n - 1)
                    continue
            return status
        if isinstance(node, For):
            words = self.expand_words(node.words) if node.words is not None else list(self.args)
            status = 0
            for w in words:
                self.check_stop()
                self.vars[node.var] = w
                try:
                    status = self.exec_seq(node.body, io)
                except _Break as b:
                    if b.n > 1:
                        raise _Break(b.n - 1)
                    break
                except _Continue as c:
                    if c.n > 1:
                        raise _Continue(c.n - 1)
                    continue
            return status
        if isinstance(node, Group):
            if node.subshell:
                sub = self.subshell()
                try:
                    return sub.exec_seq(node.body, io)
                except ShellExit as e:
                    return e.code
            return self.exec_seq(node.body, io)
        raise ShellSyntaxError(f"cannot execute {type(node).__name__}")

    def exec_simple(self, node: Simple, io: IO) -> int:
        self._subst_status: int | None = None
        argv = self.expand_words(node.words)
        assigns = {name: self.expand_string(value) for name, value in node.assigns}
        try:
            rio, closers = self.apply_redirs(node.redirs, io)
        except FsError as exc:
            io.err(f"{self.argv0}: {exc}\n")
            return 1
        try:
            if not argv:
                for k, v in assigns.items():
                    self.vars[k] = v
                return self._subst_status or 0
            if self.xtrace:
                io.err("+ " + " ".join(argv) + "\n")
            return self.exec_argv(argv, rio, assigns)
        finally:
            for c in closers:
                c.close()

    def exec_argv(self, argv: list[str], io: IO, assigns: dict[str, str]) -> int:
        self.check_stop()
        name = command_name(argv[0])
        fn = COMMANDS.get(name)
        if fn is not None:
            saved = None
            if assigns:
                saved = {k: self.vars.get(k) for k in assigns}
                saved_exp = set(self.exported)
                self.vars.update(assigns)
                self.exported.update(assigns)
            try:
                return fn(self, argv, io)
            finally:
                if saved is not None:
                    for k, v in saved.items():
                        if v is None:
                            self.vars.pop(k, None)
                        else:
                            self.vars[k] = v
                    self.exported = saved_exp
        if "/" in argv[0]:
            return self._run_file(argv, io, assigns)
        io.err(f"{self.argv0}: {argv[0]}: not found\n")
        io.err(HINT + "\n")
        return 127

    def _run_file(self, argv: list[str], io: IO, assigns: dict[str, str]) -> int:
        path = argv[0]
        try:
            data = self.fs.read_bytes(path, self.cwd)
        except FsError as exc:
            if exc.why == "Is a directory":
                io.err(f"{self.argv0}: {path}: Permission denied\n")
                return 126
            io.err(f"{self.argv0}: {path}: not found\n")
            return 127
        text = data.decode("utf-8", "surrogateescape")
        first = text.split("\n", 1)[0]
        if first.startswith("#!"):
            interp = first[2:].strip().split()
            prog = command_name(interp[0]) if interp else ""
            if prog == "env" and len(interp) > 1:
                prog = interp[1]
            if prog not in _SHELLS:
                io.err(f"{self.argv0}: {path}: {first[2:].strip()} scripts cannot run in the kubesim exec shell "
                       f"(only shell scripts do)\n")
                return 126
        sub = self.child()
        sub.vars.update(assigns)
        sub.exported.update(assigns)
        sub.argv0 = path
        sub.args = argv[1:]
        return sub.run_script(text, io)

    # -- redirections ------------------------------------------------------------------
    def apply_redirs(self, redirs: list[Redir], io: IO) -> tuple[IO, list[Output]]:
        fds: dict[int, object] = {0: io.stdin, 1: io.stdout, 2: io.stderr}
        closers: list[Output] = []
        try:
            for r in redirs:
                target = self.expand_string(r.target)
                special = _DEVICES.get(normalize(target, self.cwd))
                if special is not None and r.op in (">", ">|", ">>", "&>", "<"):
                    dev = NullOutput() if special == "null" else (fds[1] if special == "stdout" else fds[2])
                    if r.op == "<":
                        fds[r.fd] = BytesInput() if special == "null" else fds[0]
                    elif r.op == "&>":
                        fds[1] = fds[2] = dev
                    else:
                        fds[r.fd] = dev
                    continue
                if r.op in (">", ">|", ">>", "&>"):
                    try:
                        f = self.fs.open_write(target, self.cwd, append=r.op == ">>")
                    except FsError as exc:
                        raise FsError(target, f"can't create {target}: {_nicer(exc.why)}") from None
                    out = _FileOutput(f)
                    closers.append(out)
                    if r.op == "&>":
                        fds[1] = fds[2] = out
                    else:
                        fds[r.fd] = out
                elif r.op == "<":
                    try:
                        data = self.fs.read_bytes(target, self.cwd)
                    except FsError as exc:
                        raise FsError(target, f"can't open '{target}': {exc.why}") from None
                    fds[r.fd] = BytesInput(data)
                elif r.op in (">&", "<&"):
                    if target == "-":
                        fds[r.fd] = BufferOutput() if r.fd else BytesInput()
                    elif target.isdigit() and int(target) in fds:
                        fds[r.fd] = fds[int(target)]
                    elif r.op == ">&" and not target.isdigit():
                        f = self.fs.open_write(target, self.cwd)
                        out = _FileOutput(f)
                        closers.append(out)
                        fds[1] = fds[2] = out
                    else:
                        raise FsError(target, f"{target}: bad file descriptor")
        except Exception:
            for c in closers:
                c.close()
            raise
        stdin = fds[0] if isinstance(fds[0], Input) else BytesInput()
        stdout = fds[1] if isinstance(fds[1], Output) else BufferOutput()
        stderr = fds[2] if isinstance(fds[2], Output) else BufferOutput()
        return IO(stdin, stdout, stderr), closers  # type: ignore[arg-type]

    # -- expansion ---------------------------------------------------------------------
    def expand_words(self, words: list[str]) -> list[str]:
        out: list[str] = []
        for w in words:
            out.extend(self.expand_word(w))
        return out

    def expand_string(self, word: str) -> str:
        """Expansion without field splitting or globbing (assignments, redirection targets)."""
        return "".join(s.text for s in self._segments(word))

    def expand_word(self, word: str) -> list[str]:
        segs = self._segments(word)
        fields: list[list[Segment]] = []
        cur: list[Segment] = []
        started = False
        ifs = self.vars.get("IFS", " \t\n")
        for s in segs:
            if s.quoted or not s.expanded:
                cur.append(s)
                started = started or s.quoted or bool(s.text)
                continue
            text = s.text
            if not text:
                continue
            pieces = re.split("[" + re.escape(ifs) + "]+", text) if ifs else [text]
            for j, piece in enumerate(pieces):
                if j > 0:
                    if started or cur:
                        fields.append(cur)
                    cur, started = [], False
                if piece:
                    cur.append(Segment(piece, False, True))
                    started = True
        if started or cur and any(s.text or s.quoted for s in cur):
            fields.append(cur)
        result: list[str] = []
        for f in fields:
            text = "".join(s.text for s in f)
            if any(not s.quoted and re.search(r"[*?\[]", s.text) for s in f):
                pattern = "".join(s.text if not s.quoted else re.sub(r"([*?\[])", r"[\1]", s.text) for s in f)
                matches = self._glob(pattern)
                if matches:
                    result.extend(matches)
                    continue
            if text or any(s.quoted for s in f):
                result.append(text)
        return result

    def _glob(self, pattern: str) -> list[str]:
        absolute = pattern.startswith("/")
        parts = [p for p in pattern.split("/") if p]
        bases = ["/" if absolute else ""]
        for i, part in enumerate(parts):
            nxt = []
            for b in bases:
                if re.search(r"[*?\[]", part):
                    d = b or "."
                    try:
                        names = self.fs.listdir(d, self.cwd)
                    except FsError:
                        continue
                    for n in names:
                        if n.startswith(".") and not part.startswith("."):
                            continue
                        if fnmatch.fnmatchcase(n, part):
                            nxt.append(posixpath.join(b, n) if b else n)
                else:
                    lit = re.sub(r"\[([*?\[])\]", r"\1", part)
                    cand = posixpath.join(b, lit) if b else lit
                    if i == len(parts) - 1 and not self.fs.exists(cand, self.cwd):
                        continue
                    nxt.append(cand)
            bases = nxt
        return sorted(bases) if bases != ["/" if absolute else ""] else []

    def _segments(self, word: str) -> list[Segment]:
        segs: list[Segment] = []
        i, n = 0, len(word)
        lit: list[str] = []

        def flush(quoted: bool = False) -> None:
            if lit:
                segs.append(Segment("".join(lit), quoted))
                lit.clear()

        while i < n:
            c = word[i]
            if c == "'":
                flush()
                k = word.find("'", i + 1)
                if k < 0:
                    k = n
                segs.append(Segment(word[i + 1:k], True))
                i = k + 1
            elif c == '"':
                flush()
                k = _scan_dquote(word, i)
                segs.extend(self._dquoted(word[i + 1:k]))
                i = k + 1
            elif c == "\\":
                flush()
                if i + 1 < n:
                    segs.append(Segment(word[i + 1], True))
                i += 2
            elif c == "$":
                flush()
                j = _scan_dollar(word, i)
                text = self._dollar(word[i:j])
                segs.append(Segment(text, False, j > i + 1))
                i = j
            elif c == "`":
                flush()
                k = word.find("`", i + 1)
                if k < 0:
                    k = n
                segs.append(Segment(self._command_subst(word[i + 1:k]), False, True))
                i = k + 1
            elif c == "~" and i == 0:
                j = i + 1
                if j == n or word[j] == "/":
                    segs.append(Segment(self.vars.get("HOME", "/root"), True))
                else:
                    lit.append(c)
                i += 1
            else:
                lit.append(c)
                i += 1
        flush()
        return segs

    def _dquoted(self, inner: str) -> list[Segment]:
        segs: list[Segment] = []
        i, n = 0, len(inner)
        lit: list[str] = []
        while i < n:
            c = inner[i]
            if c == "\\" and i + 1 < n and inner[i + 1] in '$`"\\\n':
                if inner[i + 1] != "\n":
                    lit.append(inner[i + 1])
                i += 2
            elif c == "$":
                j = _scan_dollar(inner, i)
                lit.append(self._dollar(inner[i:j]))
                i = j
            elif c == "`":
                k = inner.find("`", i + 1)
                if k < 0:
                    k = n
                lit.append(self._command_subst(inner[i + 1:k]))
                i = k + 1
            else:
                lit.append(c)
                i += 1
        segs.append(Segment("".join(lit), True))
        return segs

    def _dollar(self, tok: str) -> str:
        if tok == "$":
            return "$"
        if tok.startswith("$(("):
            if tok.endswith("))"):
                return str(self._arith(tok[3:-2]))
        if tok.startswith("$("):
            return self._command_subst(tok[2:-1])
        if tok.startswith("${"):
            return self._brace(tok[2:-1])
        return self._param(tok[1:])

    def _param(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"
        if name == "#":
            return str(len(self.args))
        if name in ("@", "*"):
            return " ".join(self.args)
        if name == "0":
            return self.argv0
        if name == "!" or name == "-":
            return ""
        if name.isdigit():
            k = int(name)
            return self.args[k - 1] if 0 < k <= len(self.args) else ""
        return self.vars.get(name, "")

    def _brace(self, body: str) -> str:
        if body.startswith("#") and len(body) > 1:
            return str(len(self._param(body[1:])))
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#@*$])(:?[-=+?])?(.*)$", body, re.S)
        if not m:
            raise ShellSyntaxError(f"${{{body}}}: bad substitution")
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = self._param(name)
        is_set = name in self.vars or not re.match(r"^[A-Za-z_]", name)
        if not op:
            if arg:
                raise ShellSyntaxError(f"${{{body}}}: bad substitution")
            return value
        empty = (not value) if op.startswith(":") else not is_set
        kind = op[-1]
        if kind == "-":
            return self.expand_string(arg) if empty else value
        if kind == "=":
            if empty:
                self.vars[name] = self.expand_string(arg)
            return self.vars.get(name, "")
        if kind == "+":
            return "" if empty else self.expand_string(arg)
        if kind == "?":
            if empty:
                raise ShellSyntaxError(f"{name}: {self.expand_string(arg) or 'parameter not set'}")
            return value
        return value

    def _command_subst(self, src: str) -> str:
        sub = self.subshell()
        buf = BufferOutput()
        err = getattr(self, "_current_stderr", None) or BufferOutput()
        status = sub.run_script(src, IO(BytesInput(), buf, err))
        self._subst_status = status
        self.status = status
        return buf.getvalue().decode("utf-8", "surrogateescape").rstrip("\n")

    def _arith(self, expr: str) -> int:
        text = "".join(s.text for s in self._segments(expr))
        text = text.replace("&&", " and ").replace("||", " or ")
        text = re.sub(r"!(?!=)", " not ", text)
        try:
            tree = ast.parse(text.strip() or "0", mode="eval")
        except SyntaxError:
            raise ShellSyntaxError(f"arithmetic syntax error: {expr.strip()}")
        return int(self._eval(tree.body))

    def _eval(self, node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return int(node.value)
        if isinstance(node, ast.Name):
            v = self.vars.get(node.id, "0") or "0"
            try:
                return int(v)
            except ValueError:
                return 0
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Not):
                return int(not v)
            if isinstance(node.op, ast.Invert):
                return ~v
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left), self._eval(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
                raise ShellSyntaxError("arithmetic: division by zero")
            if isinstance(node.op, (ast.Div, ast.FloorDiv)):
                q = abs(a) // abs(b)
                return q if (a >= 0) == (b >= 0) else -q
            if isinstance(node.op, ast.Mod):
                r = abs(a) % abs(b)
                return r if a >= 0 else -r
            ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                   ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
                   ast.BitOr: operator.or_, ast.BitXor: operator.xor}
            fn = ops.get(type(node.op))
            if fn is not None:
                return int(fn(a, b))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp)
                ok = {ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right,
                      ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right}.get(type(op))
                if not ok:
                    return 0
                left = right
            return 1
        if isinstance(node, ast.BoolOp):
            vals = [self._eval(v) for v in node.values]
            return int(all(vals)) if isinstance(node.op, ast.And) else int(any(vals))
        raise ShellSyntaxError("arithmetic syntax error")


_DEVICES = {"/dev/null": "null", "/dev/stdout": "stdout", "/dev/stderr": "stderr", "/dev/fd/1": "stdout",
            "/dev/fd/2": "stderr", "/proc/self/fd/1": "stdout", "/proc/self/fd/2": "stderr"}


def _nicer(why: str) -> str:
    return "nonexistent directory" if why == "No such file or directory" else why


def run(argv: list[str], fs: ContainerFS, *, stdin: bytes | Input = b"", env: dict[str, str] | None = None,
        **shell_kw: object) -> tuple[int, bytes, bytes]:
    """Run argv in a fresh shell; returns (exit code, stdout, stderr). For tests and probes."""
    out, err = BufferOutput(), BufferOutput()
    inp = stdin if isinstance(stdin, Input) else BytesInput(stdin)
    sh = Shell(fs, env, **shell_kw)  # type: ignore[arg-type]
    try:
        code = sh.run_argv(argv, IO(inp, out, err))
    except Stopped:
        code = 143
    return code, out.getvalue(), err.getvalue()


# The commands register themselves in COMMANDS (they need the names above, hence the late import).
from .shell_commands import CLUSTER_DNS_IP, COMMANDS, HINT  # noqa: E402

__all__ = ["BufferOutput", "BytesInput", "CallbackOutput", "CLUSTER_DNS_IP", "COMMANDS", "HINT", "IO", "Incomplete",
           "Input", "NullOutput", "Output", "PipeInput", "Shell", "ShellExit", "ShellSyntaxError", "Stopped", "can_run",
           "command_name", "parse", "run"]
