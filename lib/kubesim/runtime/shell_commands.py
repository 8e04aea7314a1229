"""The exec shell's commands (``echo``, ``cat``, ``ls``, ``getent`` ...): each is ``fn(shell, argv, io) -> status``.

Messages follow busybox, the usual shell of small images (``cat: can't open
'x': No such file or directory``). Files are reached only through the
container's :class:`~kubesim.runtime.fs.ContainerFS`.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from datetime import datetime, timezone
from typing import Callable, Iterable

from .fs import FsError, mode_string, normalize
from .shell import _ASSIGN, _DEVICES, IO, Shell, ShellExit, Stopped, _Break, _Continue, command_name, parse
from .shell_syntax import ShellSyntaxError

# ------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------

Command = Callable[[Shell, list[str], IO], int]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    def deco(fn: Command) -> Command:
        for n in names:
            COMMANDS[n] = fn
        return fn

    return deco


def _opts(args: list[str], flags: str, with_value: str = "") -> tuple[set[str], dict[str, str], list[str]]:
    """Tiny getopt: ``-la`` style flags, ``-n 5`` / ``-n5`` values, ``--`` ends options."""
    seen: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i + 1:])
            break
        if a.startswith("--") and len(a) > 2:  # long options are accepted and ignored
            i += 1
            continue
        if a.startswith("-") and len(a) > 1 and not a[1:].lstrip("-").isdigit() or (
                a.startswith("-") and len(a) > 1 and a[1] in with_value):
            j = 1
            while j < len(a):
                ch = a[j]
                if ch in with_value:
                    val = a[j + 1:]
                    if not val:
                        i += 1
                        val = args[i] if i < len(args) else ""
                    values[ch] = val
                    break
                if ch not in flags:
                    raise ValueError(f"invalid option -- '{ch}'")
                seen.add(ch)
                j += 1
        else:
            rest.append(a)
        i += 1
    return seen, values, rest


def _err(io: IO, prog: str, msg: str) -> None:
    io.err(f"{prog}: {msg}\n")


@command(":", "true")
def _true(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("false")
def _false(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@command("sh", "ash", "bash", "dash")
def _sh(sh: Shell, argv: list[str], io: IO) -> int:
    sub = sh.child()
    args = argv[1:]
    script = None
    tty = False
    while args and args[0].startswith("-") and args[0] not in ("-", "--"):
        a = args.pop(0)
        if a == "-c":
            if not args:
                _err(io, argv[0], "-c requires an argument")
                return 2
            script = args.pop(0)
            break
        for ch in a[1:]:
            if ch == "e":
                sub.errexit = True
            elif ch == "x":
                sub.xtrace = True
            elif ch == "i":
                tty = True
            elif ch in "slu":
                pass
            elif ch == "c":
                if not args:
                    _err(io, argv[0], "-c requires an argument")
                    return 2
                script = args.pop(0)
            else:
                _err(io, argv[0], f"illegal option -{ch}")
                return 2
    if args and args[0] == "--":
        args.pop(0)
    try:
        if script is not None:
            if args:
                sub.argv0 = args[0]
                sub.args = args[1:]
            return sub.run_script(script, io)
        if args:
            path = args[0]
            try:
                text = sh.fs.read_bytes(path, sh.cwd).decode("utf-8", "surrogateescape")
            except FsError as exc:
                _err(io, argv[0], f"can't open '{path}': {exc.why}")
                return 127 if exc.why == "No such file or directory" else 2
            sub.argv0 = path
            sub.args = args[1:]
            return sub.run_script(text, io)
        return sub.run_interactive(io, tty=tty or getattr(io, "tty", False))
    except ShellExit as e:
        return e.code


@command("exit")
def _exit(sh: Shell, argv: list[str], io: IO) -> int:
    code = sh.status
    if len(argv) > 1:
        try:
            code = int(argv[1]) & 0xFF
        except ValueError:
            _err(io, sh.argv0, f"exit: Illegal number: {argv[1]}")
            code = 2
    raise ShellExit(code)


@command("exec")
def _exec(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1:
        return 0
    raise ShellExit(sh.exec_argv(argv[1:], io, {}))


@command("break")
def _break(sh: Shell, argv: list[str], io: IO) -> int:
    raise _Break(int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1)


@command("continue")
def _continue(sh: Shell, argv: list[str], io: IO) -> int:
    raise _Continue(int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1)


@command("trap", "wait", "sync", "ulimit", "umask")
def _noop(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("set")
def _set(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1:
        for k in sorted(sh.vars):
            io.out(f"{k}='{sh.vars[k]}'\n")
        return 0
    args = argv[1:]
    while args and args[0][:1] in "-+" and args[0] not in ("-", "--"):
        a = args.pop(0)
        on = a[0] == "-"
        if a[1:] == "o" and args:
            opt = args.pop(0)
            if opt == "errexit":
                sh.errexit = on
            elif opt == "xtrace":
                sh.xtrace = on
            continue
        for ch in a[1:]:
            if ch == "e":
                sh.errexit = on
            elif ch == "x":
                sh.xtrace = on
    if args and args[0] == "--":
        args.pop(0)
    if args:
        sh.args = args
    return 0


@command("shift")
def _shift(sh: Shell, argv: list[str], io: IO) -> int:
    k = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    if k > len(sh.args):
        return 1
    sh.args = sh.args[k:]
    return 0


@command("export")
def _export(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if a != "-p"]
    if not args:
        for k in sorted(sh.exported):
            if k in sh.vars:
                io.out(f"export {k}='{sh.vars[k]}'\n")
        return 0
    for a in args:
        if "=" in a:
            k, v = a.split("=", 1)
            sh.vars[k] = v
        else:
            k = a
        sh.exported.add(k)
    return 0


@command("unset")
def _unset(sh: Shell, argv: list[str], io: IO) -> int:
    for a in argv[1:]:
        if a.startswith("-"):
            continue
        sh.vars.pop(a, None)
        sh.exported.discard(a)
    return 0


@command("read")
def _read(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")] or ["REPLY"]
    raw = "-r" in argv[1:]
    line = io.stdin.readline()
    if not line:
        for n in names:
            sh.vars[n] = ""
        return 1
    text = line.decode("utf-8", "surrogateescape").rstrip("\n")
    if not raw:
        text = re.sub(r"\\(.)", r"\1", text)
    parts = text.split(None, len(names) - 1) if text.strip() else []
    for i, n in enumerate(names):
        sh.vars[n] = parts[i] if i < len(parts) else ""
    return 0


@command("cd")
def _cd(sh: Shell, argv: list[str], io: IO) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    path = normalize(target, sh.cwd)
    if not sh.fs.isdir(path):
        _err(io, sh.argv0, f"cd: can't cd to {target}: No such file or directory")
        return 2
    sh.cwd = path
    sh.vars["PWD"] = path
    return 0


@command("pwd")
def _pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.out(sh.cwd + "\n")
    return 0


_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b"}


def _unescape(s: str, stop_at_c: bool = True) -> tuple[str, bool]:
    """Backslash escapes of ``echo -e``/``printf %b``; returns (text, saw \\c)."""
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nx = s[i + 1]
            if nx in _ESC:
                out.append(_ESC[nx])
                i += 2
                continue
            if nx == "c" and stop_at_c:
                return "".join(out), True
            if nx == "0" or nx in "1234567":
                m = re.match(r"0?([0-7]{1,3})", s[i + 1:])
                if m:
                    out.append(chr(int(m.group(1), 8)))
                    i += 1 + len(m.group(0))
                    continue
            if nx == "x":
                m = re.match(r"x([0-9a-fA-F]{1,2})", s[i + 1:])
                if m:
                    out.append(chr(int(m.group(1), 16)))
                    i += 1 + len(m.group(0))
                    continue
        out.append(c)
        i += 1
    return "".join(out), False


@command("echo")
def _echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for ch in args[0][1:]:
            if ch == "n":
                newline = False
            elif ch == "e":
                escapes = True
            else:
                escapes = False
        args.pop(0)
    text = " ".join(args)
    if escapes:
        text, stop = _unescape(text)
        if stop:
            newline = False
    io.out(text + ("\n" if newline else ""))
    return 0


@command("printf")
def _printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, "printf", "usage: printf FORMAT [ARGUMENT...]")
        return 2
    fmt, args = argv[1], argv[2:]
    status = 0
    spec = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([sdiuxXofeEgGcb%])")
    while True:
        out = []
        pos = 0
        used = 0
        for m in spec.finditer(fmt):
            out.append(_unescape(fmt[pos:m.start()], stop_at_c=False)[0])
            pos = m.end()
            flags, width, prec, conv = m.groups()
            if conv == "%":
                out.append("%")
                continue
            arg = args[used] if used < len(args) else None
            used += 1
            if conv in "diuxXo":
                try:
                    val = int(arg, 0) if arg not in (None, "") else 0
                except ValueError:
                    _err(io, "printf", f"invalid number '{arg}'")
                    val, status = 0, 1
                conv2 = "d" if conv in "iu" else conv
                out.append(("%" + flags + (width or "") + ("." + prec if prec else "") + conv2) % val)
            elif conv in "feEgG":
                try:
                    fval = float(arg) if arg not in (None, "") else 0.0
                except ValueError:
                    _err(io, "printf", f"invalid number '{arg}'")
                    fval, status = 0.0, 1
                out.append(("%" + flags + (width or "") + ("." + prec if prec else "") + conv) % fval)
            elif conv == "c":
                out.append((arg or "")[:1])
            elif conv == "b":
                out.append(_unescape(arg or "")[0])
            else:
                out.append(("%" + flags + (width or "") + ("." + prec if prec else "") + "s") % (arg or ""))
        out.append(_unescape(fmt[pos:], stop_at_c=False)[0])
        io.out("".join(out))
        if used == 0 or used >= len(args):
            break
        args = args[used:]
    return status


def _read_inputs(sh: Shell, prog: str, files: list[str], io: IO) -> Iterable[tuple[str, bytes | None]]:
    if not files:
        files = ["-"]
    for f in files:
        if f == "-":
            yield f, io.stdin.read()
            continue
        if normalize(f, sh.cwd) in _DEVICES:
            yield f, b"" if _DEVICES[normalize(f, sh.cwd)] == "null" else io.stdin.read()
            continue
        try:
            yield f, sh.fs.read_bytes(f, sh.cwd)
        except FsError as exc:
            if exc.why == "Is a directory":
                _err(io, prog, f"read error: {exc.why}")
            else:
                _err(io, prog, f"can't open '{f}': {exc.why}")
            yield f, None


@command("cat")
def _cat(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, files = _opts(argv[1:], "nuAvet")
    except ValueError as exc:
        _err(io, "cat", str(exc))
        return 1
    if not files and "n" not in flags:
        # stream stdin chunk by chunk (kubectl exec -i ... -- cat)
        while True:
            chunk = io.stdin.read_chunk()
            if not chunk:
                return 0
            io.stdout.write(chunk)
    status = 0
    n = 0
    for f, data in _read_inputs(sh, "cat", files, io):
        if data is None:
            status = 1
            continue
        if "n" in flags:
            for ln in data.splitlines(keepends=True):
                n += 1
                io.stdout.write(f"{n:6d}\t".encode() + ln)
        else:
            io.stdout.write(data)
    return status


@command("tee")
def _tee(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, files = _opts(argv[1:], "ai")
    except ValueError as exc:
        _err(io, "tee", str(exc))
        return 1
    data = io.stdin.read()
    status = 0
    for f in files:
        try:
            sh.fs.write_bytes(f, data, sh.cwd, append="a" in flags)
        except FsError as exc:
            _err(io, "tee", f"{f}: {exc.why}")
            status = 1
    io.stdout.write(data)
    return status


@command("ls")
def _ls(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, paths = _opts(argv[1:], "laA1dRhtrFp")
    except ValueError as exc:
        _err(io, "ls", str(exc))
        return 1
    status = 0
    paths = paths or ["."]
    files, dirs = [], []
    for p in paths:
        if not sh.fs.exists(p, sh.cwd):
            _err(io, "ls", f"{p}: No such file or directory")
            status = 1
        elif sh.fs.isdir(p, sh.cwd) and "d" not in flags:
            dirs.append(p)
        else:
            files.append(p)
    for p in sorted(files):
        io.out(_ls_entry(sh, p, p, flags))
    for k, d in enumerate(dirs):
        if len(paths) > 1 or "R" in flags:
            io.out(("\n" if files or k else "") + f"{d}:\n")
        status |= _ls_dir(sh, d, flags, io)
    return status


def _ls_dir(sh: Shell, d: str, flags: set[str], io: IO) -> int:
    try:
        names = sh.fs.listdir(d, sh.cwd)
    except FsError as exc:
        _err(io, "ls", f"can't open '{d}': {exc.why}")
        return 1
    if "a" in flags:
        names = [".", ".."] + names
    elif "A" not in flags:
        names = [n for n in names if not n.startswith(".")]
    if "t" in flags:
        def mtime(n: str) -> float:
            try:
                return sh.fs.stat(posixpath.join(d, n), sh.cwd).st_mtime
            except (FsError, OSError):
                return 0.0
        names.sort(key=mtime, reverse=True)
    if "r" in flags:
        names.reverse()
    if "l" in flags:
        total = 0
        for n in names:
            try:
                total += (sh.fs.stat(posixpath.join(d, n), sh.cwd).st_blocks + 1) // 2
            except (FsError, OSError, AttributeError):
                pass
        io.out(f"total {total}\n")
    for n in names:
        io.out(_ls_entry(sh, posixpath.join(d, n), n, flags))
    if "R" in flags:
        for n in names:
            if n in (".", ".."):
                continue
            sub = posixpath.join(d, n)
            if sh.fs.isdir(sub, sh.cwd):
                io.out(f"\n{sub}:\n")
                _ls_dir(sh, sub, flags, io)
    return 0


def _ls_entry(sh: Shell, path: str, shown: str, flags: set[str]) -> str:
    suffix = ""
    isdir = sh.fs.isdir(path, sh.cwd)
    if ("F" in flags or "p" in flags) and isdir:
        suffix = "/"
    if "l" not in flags:
        return shown + suffix + "\n"
    try:
        st = sh.fs.stat(path, sh.cwd)
        mode, nlink, size, mtime = mode_string(st), st.st_nlink, st.st_size, st.st_mtime
    except (FsError, OSError):
        mode, nlink, size, mtime = "drwxr-xr-x", 2, 4096, time.time()
    if "h" in flags:
        sz = _human(size)
    else:
        sz = str(size)
    when = datetime.fromtimestamp(mtime, timezone.utc)
    stamp = when.strftime("%b %e %H:%M") if abs(time.time() - mtime) < 182 * 86400 else when.strftime("%b %e  %Y")
    return f"{mode} {nlink:4d} root     root     {sz:>9} {stamp} {shown}{suffix}\n"


def _human(size: int) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{size:.1f}{unit}" if unit and size < 10 else f"{int(size)}{unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


@command("mkdir")
def _mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, paths = _opts(argv[1:], "pv", "m")
    except ValueError as exc:
        _err(io, "mkdir", str(exc))
        return 1
    if not paths:
        _err(io, "mkdir", "missing operand")
        return 1
    status = 0
    for p in paths:
        try:
            sh.fs.mkdir(p, sh.cwd, parents="p" in flags)
        except FsError as exc:
            _err(io, "mkdir", f"can't create directory '{p}': {exc.why}")
            status = 1
    return status


@command("rmdir")
def _rmdir(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for p in [a for a in argv[1:] if not a.startswith("-")]:
        try:
            sh.fs.rmdir(p, sh.cwd)
        except FsError as exc:
            _err(io, "rmdir", f"'{p}': {exc.why}")
            status = 1
    return status


@command("rm")
def _rm(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, paths = _opts(argv[1:], "rRfiv")
    except ValueError as exc:
        _err(io, "rm", str(exc))
        return 1
    force = "f" in flags
    if not paths and not force:
        _err(io, "rm", "missing operand")
        return 1
    status = 0
    for p in paths:
        try:
            sh.fs.remove(p, sh.cwd, recursive=bool({"r", "R"} & flags))
        except FsError as exc:
            if force and exc.why == "No such file or directory":
                continue
            if exc.why == "Is a directory":
                _err(io, "rm", f"'{p}' is a directory")
            else:
                _err(io, "rm", f"can't remove '{p}': {exc.why}")
            status = 1
    return status


@command("touch")
def _touch(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for p in [a for a in argv[1:] if not a.startswith("-")]:
        try:
            sh.fs.touch(p, sh.cwd)
        except FsError as exc:
            _err(io, "touch", f"{p}: {exc.why}")
            status = 1
    return status


@command("cp")
def _cp(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, paths = _opts(argv[1:], "rRafpv")
    except ValueError as exc:
        _err(io, "cp", str(exc))
        return 1
    if len(paths) < 2:
        _err(io, "cp", "missing destination file operand")
        return 1
    *srcs, dst = paths
    status = 0
    for s in srcs:
        try:
            sh.fs.copy(s, dst, sh.cwd, recursive=bool({"r", "R", "a"} & flags))
        except FsError as exc:
            _err(io, "cp", f"can't stat '{s}': {exc.why}" if exc.why == "No such file or directory"
                 else f"{exc.path}: {exc.why}")
            status = 1
    return status


@command("mv")
def _mv(sh: Shell, argv: list[str], io: IO) -> int:
    paths = [a for a in argv[1:] if not a.startswith("-")]
    if len(paths) < 2:
        _err(io, "mv", "missing destination file operand")
        return 1
    *srcs, dst = paths
    status = 0
    for s in srcs:
        try:
            sh.fs.move(s, dst, sh.cwd)
        except FsError as exc:
            _err(io, "mv", f"can't rename '{s}': {exc.why}")
            status = 1
    return status


@command("hostname")
def _hostname(sh: Shell, argv: list[str], io: IO) -> int:
    if "-f" in argv[1:] or "--fqdn" in argv[1:]:
        io.out(sh.fqdn + "\n")
    elif "-i" in argv[1:] or "-I" in argv[1:]:
        io.out((sh.pod_ip or "127.0.0.1") + "\n")
    elif "-s" in argv[1:]:
        io.out(sh.hostname.split(".")[0] + "\n")
    else:
        io.out(sh.hostname + "\n")
    return 0


@command("env", "printenv")
def _env(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0] == "printenv" or command_name(argv[0]) == "printenv":
        env = sh.environ()
        if not args:
            for k in sorted(env):
                io.out(f"{k}={env[k]}\n")
            return 0
        status = 0
        for a in args:
            if a in env:
                io.out(env[a] + "\n")
            else:
                status = 1
        return status
    clear = False
    extra: dict[str, str] = {}
    while args and (args[0] in ("-i", "-") or _ASSIGN.match(args[0]) or args[0].startswith("-u")):
        a = args.pop(0)
        if a in ("-i", "-"):
            clear = True
        elif a.startswith("-u"):
            name = a[2:] or (args.pop(0) if args else "")
            extra[name] = "\0unset"
        else:
            k, v = a.split("=", 1)
            extra[k] = v
    if not args:
        env = {} if clear else sh.environ()
        for k, v in extra.items():
            if v == "\0unset":
                env.pop(k, None)
            else:
                env[k] = v
        for k in sorted(env):
            io.out(f"{k}={env[k]}\n")
        return 0
    sub = sh.subshell()
    if clear:
        sub.vars, sub.exported = {}, set()
    for k, v in extra.items():
        if v == "\0unset":
            sub.vars.pop(k, None)
            sub.exported.discard(k)
        else:
            sub.vars[k] = v
            sub.exported.add(k)
    return sub.exec_argv(args, io, {})


def _test(sh: Shell, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!" and len(args) > 1:
        return not _test(sh, args[1:])
    for op in ("-o", "-a"):
        if op in args[1:-1]:
            i = args.index(op, 1)
            left, right = _test(sh, args[:i]), _test(sh, args[i + 1:])
            return (left or right) if op == "-o" else (left and right)
    if args[0] == "(" and args[-1] == ")":
        return _test(sh, args[1:-1])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, v = args
        fs = sh.fs
        if op == "-z":
            return v == ""
        if op == "-n":
            return v != ""
        if op == "-e":
            return fs.exists(v, sh.cwd)
        if op == "-f":
            return fs.isfile(v, sh.cwd)
        if op == "-d":
            return fs.isdir(v, sh.cwd)
        if op == "-s":
            try:
                return fs.isfile(v, sh.cwd) and fs.stat(v, sh.cwd).st_size > 0
            except FsError:
                return False
        if op in ("-r", "-w", "-x"):
            if not fs.exists(v, sh.cwd):
                return False
            if op == "-w":
                return not fs.resolve(v, sh.cwd).read_only
            if op == "-x":
                try:
                    return fs.isdir(v, sh.cwd) or bool(fs.stat(v, sh.cwd).st_mode & 0o111)
                except FsError:
                    return False
            return True
        if op in ("-L", "-h", "-p", "-S", "-b", "-c"):
            return False
        raise ValueError(f"{op}: unary operator expected")
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        if op in ("<", ">"):
            return a < b if op == "<" else a > b
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                x, y = int(a), int(b)
            except ValueError:
                bad = a if not re.fullmatch(r"-?\d+", a) else b
                raise ValueError(f"{bad}: integer expected")
            return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]
    raise ValueError(f"{args[1] if len(args) > 1 else args[0]}: unknown operand")


@command("test", "[")
def _test_cmd(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if command_name(argv[0]) == "[":
        if not args or args[-1] != "]":
            _err(io, sh.argv0, "[: missing ]")
            return 2
        args = args[:-1]
    try:
        return 0 if _test(sh, args) else 1
    except ValueError as exc:
        _err(io, sh.argv0, f"{command_name(argv[0])}: {exc}")
        return 2


def _duration(text: str) -> float:
    if text in ("inf", "infinity"):
        return float("inf")
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@command("sleep")
def _sleep(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, "sleep", "missing operand")
        return 1
    try:
        total = sum(_duration(a) for a in argv[1:])
    except ValueError as exc:
        _err(io, "sleep", f"invalid number '{exc}'")
        return 1
    deadline = time.monotonic() + total
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        if sh.stop.wait(min(left, 3600.0)):
            raise Stopped()


@command("date")
def _date(sh: Shell, argv: list[str], io: IO) -> int:
    now = datetime.fromtimestamp(sh.now(), timezone.utc)
    fmt = None
    for a in argv[1:]:
        if a.startswith("+"):
            fmt = a[1:]
        elif a in ("-I", "--iso-8601"):
            fmt = "%Y-%m-%d"
        elif a.startswith("-I") or a.startswith("--iso-8601="):
            fmt = "%Y-%m-%dT%H:%M:%S+00:00"
        elif a in ("-R", "--rfc-2822"):
            fmt = "%a, %d %b %Y %H:%M:%S +0000"
    if fmt is None:
        io.out(now.strftime("%a %b %e %H:%M:%S UTC %Y") + "\n")
        return 0
    fmt = fmt.replace("%N", f"{now.microsecond * 1000:09d}").replace("%s", str(int(sh.now())))
    io.out(now.strftime(fmt) + "\n")
    return 0


@command("wc")
def _wc(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, _, files = _opts(argv[1:], "lwcm")
    except ValueError as exc:
        _err(io, "wc", str(exc))
        return 1
    if not flags:
        flags = {"l", "w", "c"}
    status = 0
    totals = [0, 0, 0]
    rows = []
    for f, data in _read_inputs(sh, "wc", files, io):
        if data is None:
            status = 1
            continue
        counts = [data.count(b"\n"), len(data.split()), len(data)]
        totals = [a + b for a, b in zip(totals, counts)]
        rows.append((counts, "" if f == "-" and not files else f))
    if len(rows) > 1:
        rows.append((totals, "total"))
    for counts, name in rows:
        cols = [str(c) for c, k in zip(counts, "lwc") if k in flags or (k == "c" and "m" in flags)]
        width = 1 if len(cols) == 1 else 7
        line = " ".join(c.rjust(width) for c in cols)
        io.out(line + (f" {name}" if name else "") + "\n")
    return status


def _count_arg(args: list[str], default: int = 10) -> tuple[str, list[str]]:
    out, rest = str(default), []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            out = args[i + 1]
            i += 2
            continue
        if a.startswith("-n") and len(a) > 2:
            out = a[2:]
        elif re.fullmatch(r"-\d+", a):
            out = a[1:]
        elif a in ("-q", "-v"):
            pass
        else:
            rest.append(a)
        i += 1
    return out, rest


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@command("head")
def _head(sh: Shell, argv: list[str], io: IO) -> int:
    n, files = _count_arg(argv[1:])
    try:
        k = int(n)
    except ValueError:
        _err(io, "head", f"invalid number '{n}'")
        return 1
    status = 0
    for f, data in _read_inputs(sh, "head", files, io):
        if data is None:
            status = 1
            continue
        lines = _lines(data)
        io.stdout.write(b"".join(lines[:k] if k >= 0 else lines[:k]))
    return status


@command("tail")
def _tail(sh: Shell, argv: list[str], io: IO) -> int:
    n, files = _count_arg(argv[1:])
    status = 0
    for f, data in _read_inputs(sh, "tail", files, io):
        if data is None:
            status = 1
            continue
        lines = _lines(data)
        try:
            if n.startswith("+"):
                io.stdout.write(b"".join(lines[max(0, int(n[1:]) - 1):]))
            else:
                k = int(n)
                io.stdout.write(b"".join(lines[-k:] if k else []))
        except ValueError:
            _err(io, "tail", f"invalid number '{n}'")
            return 1
    return status


@command("grep", "egrep", "fgrep")
def _grep(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        flags, values, rest = _opts(argv[1:], "qvicnlEFwoxhsH", "e")
    except ValueError as exc:
        _err(io, "grep", str(exc))
        return 2
    if "e" in values:
        pattern, files = values["e"], rest
    elif rest:
        pattern, files = rest[0], rest[1:]
    else:
        _err(io, "grep", "usage: grep [-qvicnlEF] PATTERN [FILE]...")
        return 2
    if "F" in flags or command_name(argv[0]) == "fgrep":
        rx = re.escape(pattern)
    elif "E" in flags or command_name(argv[0]) == "egrep":
        rx = pattern
    else:  # basic regex: \| \( \) \{ \} \+ \? are the operators; bare ones are literal
        rx = re.sub(r"\\([|(){}+?])|([|(){}+?])", lambda m: m.group(1) or "\\" + m.group(2), pattern)
    if "w" in flags:
        rx = rf"\b(?:{rx})\b"
    if "x" in flags:
        rx = rf"^(?:{rx})$"
    try:
        prog = re.compile(rx, re.I if "i" in flags else 0)
    except re.error as exc:
        _err(io, "grep", f"bad regex '{pattern}': {exc}")
        return 2
    found = False
    status_err = False
    show_name = (len(files) > 1 or "H" in flags) and "h" not in flags
    for f, data in _read_inputs(sh, "grep", files, io):
        if data is None:
            status_err = True
            continue
        count = 0
        for no, raw in enumerate(data.decode("utf-8", "surrogateescape").splitlines(), 1):
            hit = bool(prog.search(raw)) != ("v" in flags)
            if not hit:
                continue
            found = True
            count += 1
            if "q" in flags:
                return 0
            if "l" in flags or "c" in flags:
                continue
            prefix = (f"{f}:" if show_name else "") + (f"{no}:" if "n" in flags else "")
            if "o" in flags and "v" not in flags:
                for m in prog.finditer(raw):
                    io.out(prefix + m.group(0) + "\n")
            else:
                io.out(prefix + raw + "\n")
        if "l" in flags and count:
            io.out(f"{f if f != '-' else '(standard input)'}\n")
        if "c" in flags:
            io.out((f"{f}:" if show_name else "") + f"{count}\n")
    if status_err and not found:
        return 2
    return 0 if found else 1


@command("seq")
def _seq(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        nums = [int(a) for a in argv[1:] if not (a.startswith("-") and not a[1:].isdigit())]
    except ValueError:
        _err(io, "seq", "invalid number")
        return 1
    if len(nums) == 1:
        first, inc, last = 1, 1, nums[0]
    elif len(nums) == 2:
        first, inc, last = nums[0], 1, nums[1]
    elif len(nums) == 3:
        first, inc, last = nums
    else:
        _err(io, "seq", "missing operand")
        return 1
    if inc == 0:
        return 1
    out = []
    x = first
    while (inc > 0 and x <= last) or (inc < 0 and x >= last):
        out.append(f"{x}\n")
        x += inc
        if len(out) > 1_000_000:
            break
    io.out("".join(out))
    return 0


@command("basename")
def _basename(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, "basename", "missing operand")
        return 1
    b = posixpath.basename(argv[1].rstrip("/")) or "/"
    if len(argv) > 2 and b.endswith(argv[2]) and b != argv[2]:
        b = b[: -len(argv[2])]
    io.out(b + "\n")
    return 0


@command("dirname")
def _dirname(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, "dirname", "missing operand")
        return 1
    p = argv[1].rstrip("/") or "/"
    io.out((posixpath.dirname(p) or ".") + "\n")
    return 0


@command("id")
def _id(sh: Shell, argv: list[str], io: IO) -> int:
    if "-u" in argv[1:] or "-g" in argv[1:]:
        io.out("0\n")
    elif "-n" in argv[1:] or "-un" in argv[1:]:
        io.out("root\n")
    else:
        io.out("uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


@command("whoami")
def _whoami(sh: Shell, argv: list[str], io: IO) -> int:
    io.out("root\n")
    return 0


@command("uname")
def _uname(sh: Shell, argv: list[str], io: IO) -> int:
    parts = {"s": "Linux", "n": sh.hostname, "r": "6.1.0-kubesim", "v": "#1 SMP", "m": "x86_64"}
    flags = set("".join(a[1:] for a in argv[1:] if a.startswith("-")))
    if "a" in flags:
        io.out(" ".join(parts[k] for k in "snrvm") + " GNU/Linux\n")
    elif flags:
        io.out(" ".join(parts[k] for k in "snrvm" if k in flags) + "\n")
    else:
        io.out("Linux\n")
    return 0


@command("source", ".")
def _source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, sh.argv0, f"{argv[0]}: filename argument required")
        return 2
    try:
        text = sh.fs.read_bytes(argv[1], sh.cwd).decode("utf-8", "surrogateescape")
    except FsError as exc:
        _err(io, sh.argv0, f"{argv[0]}: can't open '{argv[1]}': {exc.why}")
        return 1
    try:
        tree = parse(text)
    except ShellSyntaxError as exc:
        _err(io, sh.argv0, str(exc))
        return 2
    return sh.exec_seq(tree, io)


@command("getent")
def _getent(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(io, "getent", "usage: getent DATABASE KEY...")
        return 1
    db = argv[1]
    if db not in ("hosts", "ahosts", "ahostsv4"):
        if db in ("passwd", "group"):
            if db == "passwd":
                io.out("root:x:0:0:root:/root:/bin/sh\n")
            else:
                io.out("root:x:0:root\n")
            return 0
        _err(io, "getent", f"Unknown database: {db}")
        return 1
    status = 0
    for key in argv[2:]:
        found = sh.lookup_host(key)
        if not found:
            status = 2
            continue
        name, ips = found
        if db == "hosts":
            for ip in ips:
                io.out(f"{ip:<15} {name}\n")
        else:
            for j, ip in enumerate(ips):
                io.out(f"{ip:<15} STREAM {name}\n" if j == 0 else f"{ip:<15} STREAM\n")
                io.out(f"{ip:<15} DGRAM  \n{ip:<15} RAW    \n")
    return status


@command("tar")
def _tar(sh: Shell, argv: list[str], io: IO) -> int:
    """Enough tar for ``kubectl cp`` (``tar cf - PATH`` from a pod, ``tar -xmf - -C DIR`` into it)."""
    import io as _io
    import tarfile

    args = argv[1:]
    if args and not args[0].startswith("-"):
        args[0] = "-" + args[0]
    mode, archive, directory, gzip, verbose, names = "", "-", sh.cwd, False, False, []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if a.startswith("--directory="):
                directory = normalize(a.split("=", 1)[1], sh.cwd)
            elif a == "--directory" and i + 1 < len(args):
                i += 1
                directory = normalize(args[i], sh.cwd)
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            for j, ch in enumerate(a[1:]):
                if ch in "cxt":
                    mode = ch
                elif ch == "z":
                    gzip = True
                elif ch == "v":
                    verbose = True
                elif ch in "fC":
                    rest = a[j + 2:]
                    if rest:
                        value = rest
                    else:
                        i += 1
                        value = args[i] if i < len(args) else ""
                    if ch == "f":
                        archive = value
                    else:
                        directory = normalize(value, sh.cwd)
                    break
            i += 1
            continue
        names.append(a)
        i += 1
    if not mode:
        _err(io, "tar", "need at least one option of c, x, t")
        return 2
    if archive != "-":
        _err(io, "tar", "kubesim's tar reads and writes standard input/output only (f -)")
        return 2
    if mode == "c":
        buf = _io.BytesIO()
        status = 0
        with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w", format=tarfile.GNU_FORMAT) as tf:
            for name in names:
                base = normalize(name, directory)
                if not sh.fs.exists(base):
                    _err(io, "tar", f"{name}: No such file or directory")
                    status = 2
                    continue
                arc_root = name.lstrip("/") or "."
                if name.startswith("/"):
                    _err(io, "tar", "removing leading '/' from member names")
                for cpath in sh.fs.walk(base):
                    rel = cpath[len(base):].lstrip("/")
                    arc = posixpath.join(arc_root, rel) if rel else arc_root
                    host = sh.fs.host_path(cpath)
                    if os.path.isdir(host):
                        info = tarfile.TarInfo(arc)
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        info.mtime = int(os.stat(host).st_mtime)
                        tf.addfile(info)
                    elif os.path.isfile(host):
                        info = tf.gettarinfo(host, arcname=arc)
                        info.uid = info.gid = 0
                        info.uname = info.gname = "root"
                        with open(host, "rb") as f:
                            tf.addfile(info, f)
                    if verbose:
                        io.err(arc + "\n")
        io.stdout.write(buf.getvalue())
        return status
    try:
        tf = tarfile.open(fileobj=_io.BytesIO(io.stdin.read()), mode="r:*")
    except tarfile.TarError as exc:
        _err(io, "tar", f"invalid tar archive: {exc}")
        return 2
    status = 0
    with tf:
        for m in tf.getmembers():
            if mode == "t":
                io.out(m.name + "\n")
                continue
            target = normalize(m.name, directory)
            try:
                if m.isdir():
                    sh.fs.mkdir(target, parents=True)
                elif m.isfile():
                    parent = posixpath.dirname(target)
                    if not sh.fs.isdir(parent):
                        sh.fs.mkdir(parent, parents=True)
                    src = tf.extractfile(m)
                    sh.fs.write_bytes(target, src.read() if src else b"")
                else:
                    continue  # links and devices are not extracted
                if verbose:
                    io.out(m.name + "\n")
            except FsError as exc:
                _err(io, "tar", f"{m.name}: Cannot open: {exc.why}")
                status = 2
    return status


CLUSTER_DNS_IP = "10.100.0.10"  # EKS's kube-dns ClusterIP for the default 10.100.0.0/16 service CIDR


@command("nslookup")
def _nslookup(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")]
    if not names:
        _err(io, "nslookup", "usage: nslookup HOST [DNS_SERVER]")
        return 1
    name = names[0]
    server = sh.vars.get("KUBESIM_DNS_IP", CLUSTER_DNS_IP)
    io.out(f"Server:\t\t{server}\nAddress:\t{server}:53\n\n")
    found = sh.lookup_host(name)
    if not found:
        io.out(f"** server can't find {name}: NXDOMAIN\n\n")
        return 1
    fqdn, ips = found
    for ip in ips:
        io.out(f"Name:\t{fqdn}\nAddress: {ip}\n")
    io.out("\n")
    return 0


HINT = ("kubesim exec shell supports: " + ", ".join(sorted(n for n in COMMANDS if n.isalpha() and n not in
                                                              ("ash", "dash", "egrep", "fgrep")))
        + "; plus [, :, ., redirections, pipes, &&, ||, ;, $VAR, $(...), if/while/for "
          "(kubesim never runs other programs)")
