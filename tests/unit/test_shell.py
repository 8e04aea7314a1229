"""The exec shell, table-driven: one script in, exit code / stdout / stderr out.

Each case runs ``sh -c SCRIPT`` in a fresh container view whose root holds
``/etc/motd`` and ``/data`` is a mount (a separate host directory, like a PV).
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from kubesim.runtime import shell
from kubesim.runtime.fs import ContainerFS, Mount, normalize

ENV = {"GREETING": "hello world", "EMPTY": "", "PATH": "/bin"}


@pytest.fixture
def fs(tmp_path):
    root, pv, ro = tmp_path / "root", tmp_path / "pv", tmp_path / "cfg"
    for d in (root / "etc", root / "tmp", pv, ro):
        d.mkdir(parents=True)
    (root / "etc" / "motd").write_text("welcome\nto\nkubesim\n")
    (pv / "seed").write_text("1\n2\n3\n")
    (ro / "app.conf").write_text("key=value\n")
    (root / "data").mkdir()
    (root / "config").mkdir()
    return ContainerFS(str(root), [Mount("/data", str(pv)), Mount("/config", str(ro), read_only=True)])


def sh(fs, script, stdin=b"", **kw):
    code, out, err = shell.run(["sh", "-c", script], fs, stdin=stdin, env=ENV, hostname="web-0",
                               fqdn="web-0.nginx.default.svc.cluster.local", pod_ip="10.244.0.5", **kw)
    return code, out.decode(), err.decode()


CASES = [
    # (script, exit code, stdout, stderr)
    ("echo hi", 0, "hi\n", ""),
    ("echo -n a; echo b", 0, "ab\n", ""),
    ("echo -e 'a\\tb'", 0, "a\tb\n", ""),
    ("printf '%s=%d\\n' a 1 b 2", 0, "a=1\nb=2\n", ""),
    ("printf '%05.1f|%-3s|%x\\n' 3.14159 ab 255", 0, "003.1|ab |ff\n", ""),
    ("exit 3", 3, "", ""),
    ("false; echo $?", 0, "1\n", ""),
    ("true && echo yes || echo no", 0, "yes\n", ""),
    ("false && echo yes || echo no", 0, "no\n", ""),
    ("echo a; echo b >&2; echo c", 0, "a\nc\n", "b\n"),
    ("echo $GREETING", 0, "hello world\n", ""),
    ("echo \"${GREETING}!\"", 0, "hello world!\n", ""),
    ("echo '$GREETING'", 0, "$GREETING\n", ""),
    ("echo \\$HOME \"\\$x\"", 0, "$HOME $x\n", ""),
    ("echo ${MISSING:-default} ${EMPTY:-e} ${#GREETING}", 0, "default e 11\n", ""),
    ("X=1; X=$((X + 41)); echo $X", 0, "42\n", ""),
    ("echo $((7 / 2)) $((7 % 3)) $((2 * (3 + 4))) $((1 < 2))", 0, "3 1 14 1\n", ""),
    ("for w in $GREETING; do echo [$w]; done", 0, "[hello]\n[world]\n", ""),
    ("for w in \"$GREETING\"; do echo [$w]; done", 0, "[hello world]\n", ""),
    ("set -- a b c; echo $# $2 $@", 0, "3 b a b c\n", ""),
    ("echo $(hostname) $(echo nested $(echo deep))", 0, "web-0 nested deep\n", ""),
    ("echo `hostname -f`", 0, "web-0.nginx.default.svc.cluster.local\n", ""),
    ("hostname -i", 0, "10.244.0.5\n", ""),
    ("x=$(cat /etc/motd | head -n 1); echo \"<$x>\"", 0, "<welcome>\n", ""),
    ("cat /etc/motd | wc -l", 0, "3\n", ""),
    ("cat /etc/motd | grep -n kube", 0, "3:kubesim\n", ""),
    ("grep -q nothing /etc/motd; echo $?", 0, "1\n", ""),
    ("grep -c -v x /etc/motd", 0, "3\n", ""),
    ("tail -n 2 /etc/motd", 0, "to\nkubesim\n", ""),
    ("tail -n +2 /etc/motd | head -1", 0, "to\n", ""),
    ("seq 3 | tail -1", 0, "3\n", ""),
    ("wc -l < /data/seed", 0, "3\n", ""),
    ("echo x > /data/f; echo y >> /data/f; cat /data/f", 0, "x\ny\n", ""),
    ("cd /data && echo z > g && cat /data/g && pwd", 0, "z\n/data\n", ""),
    ("echo hidden > /dev/null; echo shown 2>/dev/null", 0, "shown\n", ""),
    ("cat /nope 2>&1", 1, "cat: can't open '/nope': No such file or directory\n", ""),
    ("cat /nope 2>/dev/null || echo failed", 0, "failed\n", ""),
    ("ls /data", 0, "seed\n", ""),
    ("ls /", 0, "config\ndata\netc\ntmp\n", ""),
    ("ls -d /etc /data", 0, "/data\n/etc\n", ""),
    ("ls /data/*", 0, "/data/seed\n", ""),
    ("echo /etc/m*", 0, "/etc/motd\n", ""),
    ("echo '/etc/m*'", 0, "/etc/m*\n", ""),
    ("echo /nomatch*", 0, "/nomatch*\n", ""),
    ("mkdir /a/b", 1, "", "mkdir: can't create directory '/a/b': No such file or directory\n"),
    ("mkdir -p /a/b && touch /a/b/c && ls /a/b && rm -r /a && ls /a", 1, "c\n",
     "ls: /a: No such file or directory\n"),
    ("rm /etc", 1, "", "rm: '/etc' is a directory\n"),
    ("rm -f /nothing; echo $?", 0, "0\n", ""),
    ("cp /etc/motd /data/copy && mv /data/copy /data/moved && wc -l /data/moved", 0, "3 /data/moved\n", ""),
    ("echo nope > /config/app.conf", 1, "", "sh: /config/app.conf: can't create /config/app.conf: "
                                           "Read-only file system\n"),
    ("cat /config/app.conf", 0, "key=value\n", ""),
    ("cat ../../../../config/app.conf", 0, "key=value\n", ""),
    ("if [ -f /etc/motd ]; then echo file; elif [ -d /etc ]; then echo dir; else echo none; fi", 0, "file\n", ""),
    ("if test -d /data -a ! -f /data; then echo ok; fi", 0, "ok\n", ""),
    ("[ 3 -gt 2 ] && [ abc = abc ] && [ -n \"$GREETING\" ] && [ -z \"$EMPTY\" ] && echo all", 0, "all\n", ""),
    ("[ 1 -lt 2", 2, "", "sh: [: missing ]\n"),
    ("[ a -lt 2 ]", 2, "", "sh: [: a: integer expected\n"),
    ("i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done", 0, "1\n2\n3\n", ""),
    ("i=0; until [ $i -ge 2 ]; do i=$((i+1)); done; echo $i", 0, "2\n", ""),
    ("for i in 1 2 3 4; do if [ $i = 3 ]; then break; fi; echo $i; done", 0, "1\n2\n", ""),
    ("for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done", 0, "1\n3\n", ""),
    ("{ echo a; echo b; } > /data/grp; cat /data/grp", 0, "a\nb\n", ""),
    ("(cd /etc; pwd); pwd", 0, "/etc\n/\n", ""),
    ("(exit 5); echo $?", 0, "5\n", ""),
    ("! false && echo negated", 0, "negated\n", ""),
    ("set -e; echo before; false; echo after", 1, "before\n", ""),
    ("set -e; false || true; if false; then :; fi; echo survived", 0, "survived\n", ""),
    ("VAR=inline env | grep VAR", 0, "VAR=inline\n", ""),
    ("export NEW=1; sh -c 'echo $NEW'", 0, "1\n", ""),
    ("LOCAL=1; sh -c 'echo [$LOCAL]'", 0, "[]\n", ""),
    ("sh -c 'exit 7'; echo $?", 0, "7\n", ""),
    ("/bin/echo path", 0, "path\n", ""),
    ("date +%Y | wc -c", 0, "5\n", ""),
    ("read a b; echo \"$b-$a\"", 0, "y z-x\n", ""),
    ("cat", 0, "x y z\n", ""),
    ("basename /a/b/c.txt .txt; dirname /a/b/c.txt", 0, "c\n/a/b\n", ""),
    ("echo a | tee /data/t; cat /data/t", 0, "a\na\n", ""),
    ("sleep 0.01 && echo slept", 0, "slept\n", ""),
    ("whoami; id -u", 0, "root\n0\n", ""),
    ("echo 'unterminated", 2, "", "sh: unterminated quoted string\n"),
    ("if true; then echo x", 2, "", "sh: expected fi\n"),
    ("echo a |", 2, "", "sh: expected a command\n"),
    ("case x in x) ;; esac", 2, "", "sh: case/esac is not supported by the kubesim shell\n"),
]


@pytest.mark.parametrize("script,code,out,err", CASES, ids=[c[0][:40] for c in CASES])
def test_script(fs, script, code, out, err):
    assert sh(fs, script, stdin=b"x y z\n") == (code, out, err)


def test_unknown_command_exits_127_with_a_hint(fs):
    code, out, err = sh(fs, "nginx -g 'daemon off;'")
    assert code == 127 and out == ""
    first, hint = err.rstrip("\n").split("\n")
    assert first == "sh: nginx: not found"
    assert hint.startswith("kubesim exec shell supports: ") and "getent" in hint and "mkdir" in hint


def test_no_host_command_is_ever_run(fs, tmp_path):
    marker = tmp_path / "pwned"
    code, _, err = sh(fs, f"touch {marker}; python -c 'open(\"{marker}\", \"w\")'; /usr/bin/id")
    assert not marker.exists()  # touch resolved the path inside the container root; python is unknown
    assert "python: not found" in err


def test_writes_through_a_mount_land_in_the_host_directory(fs):
    sh(fs, "mkdir -p /data/sub && echo v > /data/sub/k")
    pv = fs.mounts[-1].host if fs.mounts[-1].path == "/data" else [m.host for m in fs.mounts if m.path == "/data"][0]
    assert open(os.path.join(pv, "sub", "k")).read() == "v\n"


def test_dotdot_never_escapes_the_container(fs, tmp_path):
    (tmp_path / "secret").write_text("host secret")
    code, out, err = sh(fs, "cat ../../../../secret; cat /../secret; ls ../..")
    assert "host secret" not in out
    assert normalize("../../x", "/data") == "/x"


def test_symlink_out_of_a_mount_is_refused(fs, tmp_path):
    (tmp_path / "outside").write_text("nope")
    pv = [m.host for m in fs.mounts if m.path == "/data"][0]
    os.symlink(str(tmp_path / "outside"), os.path.join(pv, "link"))
    code, out, err = sh(fs, "cat /data/link")
    assert code == 1 and out == "" and "Permission denied" in err


def test_script_file_from_a_mount_runs_as_a_script(fs):
    pv = [m.host for m in fs.mounts if m.path == "/data"][0]
    with open(os.path.join(pv, "init.sh"), "w") as f:
        f.write("#!/bin/sh\necho \"init $1\"\nexit 4\n")
    assert sh(fs, "/data/init.sh arg") == (4, "init arg\n", "")
    with open(os.path.join(pv, "tool.py"), "w") as f:
        f.write("#!/usr/bin/env python3\nprint(1)\n")
    code, _, err = sh(fs, "/data/tool.py")
    assert code == 126 and "cannot run in the kubesim exec shell" in err


def test_stop_interrupts_sleep(fs):
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    t0 = time.monotonic()
    code, _, _ = shell.run(["sh", "-c", "sleep 30; echo never"], fs, stop=stop)
    assert code == 143 and time.monotonic() - t0 < 2


def test_streaming_stdin(fs):
    pipe = shell.PipeInput()
    out = shell.BufferOutput()
    result = {}

    def run():
        sh_ = shell.Shell(fs, {})
        result["code"] = sh_.run_argv(["sh", "-c", "while read line; do echo got $line; done"],
                                      shell.IO(pipe, out, shell.BufferOutput()))

    t = threading.Thread(target=run)
    t.start()
    pipe.feed(b"one\ntw")
    pipe.feed(b"o\n")
    pipe.close()
    t.join(5)
    assert result["code"] == 0 and out.getvalue() == b"got one\ngot two\n"


def test_interactive_sh_reads_commands_from_stdin(fs):
    code, out, err = shell.run(["sh"], fs, stdin=b"echo one\nif true; then\n  echo two\nfi\nexit 9\necho never\n")
    assert (code, out, err) == (9, b"one\ntwo\n", b"")


@pytest.mark.parametrize("argv,ok", [
    (["sh", "-c", "echo hi && sleep 2 && exit 3"], True),
    (["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); sleep 1; done"], True),
    (["sleep", "3600"], True),
    (["echo", "x"], True),
    (["sh", "-c", "nginx -g 'daemon off;'"], False),
    (["sh", "-c", "echo start && exec nginx"], False),
    (["sh", "-c", "$CMD"], False),
    (["nginx", "-g", "daemon off;"], False),
    (["python", "app.py"], False),
    (["sh", "-c", "echo 'unterminated"], False),
    (["sh", "/scripts/init.sh"], False),
    (["getent", "hosts", "x"], False),
    ([], False),
])
def test_can_run(argv, ok):
    assert shell.can_run(argv) is ok


def test_lookup_uses_search_path_and_resolvers(fs):
    seen = []

    def resolver(name):
        seen.append(name)
        return ["10.0.0.9"] if name == "db.prod.svc.cluster.local" else None

    s = shell.Shell(fs, {}, search=["prod.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                    resolvers=[resolver])
    assert s.lookup_host("db") == ("db.prod.svc.cluster.local", ["10.0.0.9"])
    assert s.lookup_host("db.prod") == ("db.prod.svc.cluster.local", ["10.0.0.9"])
    assert seen[-2:] == ["db.prod.prod.svc.cluster.local", "db.prod.svc.cluster.local"]
    assert s.lookup_host("nope") is None
    assert s.lookup_host("localhost") == ("localhost", ["127.0.0.1"])


def test_tar_round_trip_as_kubectl_cp_does(fs):
    sh(fs, "mkdir -p /data/dir/sub && echo a > /data/dir/f && echo b > /data/dir/sub/g")
    code, out, err = shell.run(["tar", "cf", "-", "/data/dir"], fs)
    assert code == 0 and b"removing leading" in err
    code, _, err = shell.run(["tar", "-xmf", "-", "-C", "/tmp"], fs, stdin=out)
    assert code == 0, err
    assert sh(fs, "cat /tmp/data/dir/f /tmp/data/dir/sub/g") == (0, "a\nb\n", "")
    code, listing, _ = shell.run(["tar", "tf", "-"], fs, stdin=out)
    assert listing.decode().split() == ["data/dir", "data/dir/f", "data/dir/sub", "data/dir/sub/g"]


def test_tty_line_discipline(fs):
    out = shell.BufferOutput()
    sh_ = shell.Shell(fs, {})
    code = sh_.run_argv(["sh"], shell.IO(shell.BytesInput(b"echo hx\x7fi\rexit 2\r"), out, out, tty=True))
    assert code == 2
    assert out.getvalue() == b"/ # echo hx\b \bi\nhi\n/ # exit 2\n"
