"""``NodeRuntime``: one node's containers (kubesim's containerd), implementing :class:`kubesim.runtime.RuntimeAPI`.

Each container instance is one of three kinds, decided when it starts:

1. **Workload process.** The pod's annotation ``kubesim.io/workload`` names a
   known kit workload (a key of ``ctx.workloads``, the value is a script
   path): the container runs ``sys.executable <script> <container args...>``
   as a real child process (own session, cwd in the container's private root,
   stdin closed, stdout/stderr into the container log). ``command`` is ignored
   (on a real cluster it is ``python /app/<script>``); ``args`` are passed with
   ``$(VAR)`` expanded. The annotation value is either ``<workload>`` (the
   pod's first container) or ``<container>=<workload>[,<container>=<workload>]``.
2. **Shell.** The container's ``command``+``args`` only use what the exec shell
   implements (``sh -c 'echo hi && sleep 2 && exit 3'``, ``sleep 3600``): they
   run in :mod:`kubesim.runtime.shell` on a thread, output into the log, the
   exit code becomes the container's.
3. **Simulated.** Anything else (no command, ``nginx -g ...``): it "runs" with no
   process until stopped. Nothing from a pod spec is ever executed on the host.

Each instance gets a fresh private root (its writable layer: ``/etc/hosts``,
``/etc/hostname``, ``/etc/resolv.conf``, mount points), built on disk the first
time something uses it (an exec, a shell command, a workload process), from
what the pod was when the instance started. A simulated container nobody
execs into never creates one: at 1,000 pods the directories were most of a
pod start's cost.

Stopping: SIGTERM now (a process gets the signal; a shell stops at once, exit
143; a simulated container exits 0) and SIGKILL after the grace period (exit
137). ``kill_all`` (power loss) kills everything at once.

The workload process contract (what the ``petkv`` author can rely on)
---------------------------------------------------------------------
Environment:

- the container's ``env``/``envFrom`` resolved as the kubelet does (values,
  ``fieldRef`` metadata.name/namespace/uid/labels/annotations, spec.nodeName,
  status.podIP/hostIP, ``resourceFieldRef``, ``configMapKeyRef``,
  ``secretKeyRef``) plus service link variables (``KUBERNETES_SERVICE_HOST`` ...);
- ``HOSTNAME``: the pod's hostname (``spec.hostname`` or the pod name, e.g. ``web-0``);
- ``KUBESIM_MOUNTS``: JSON ``{"<mountPath>": "<host directory>"}`` for every
  volumeMount; a workload must read and write its data under the host
  directory of its mount (e.g. ``/data`` -> the PV's directory), never under
  the literal mountPath;
- ``KUBESIM_ROOT``: the container's private root directory (for any other
  absolute path; it is recreated empty on every container restart, like a
  container's writable layer);
- ``KUBESIM_PORT_<containerPort>``: for each declared ``containerPort``, a free
  127.0.0.1 port the workload must listen on instead (bind 127.0.0.1 only);
  the API server's pod/service proxy and the kubelet's probes reach it there;
- ``PYTHONUNBUFFERED=1``, ``PATH``, ``LANG``; nothing else from the host.

The process must exit on SIGTERM (exit code 0 for a clean shutdown); it is
SIGKILLed after ``terminationGracePeriodSeconds`` (as scaled by the timing
profile, through the kubelet). Logs are its stdout and stderr, one line per
log entry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import storage
from . import ContainerState, Endpoint, ExecResult, LogLine
from . import env as envmod
from . import shell as sh
from .dns import ensure_cluster_dns
from .fs import ContainerFS, Mount, normalize
from .volumes import setup_volumes

log = logging.getLogger("kubesim.runtime")

WORKLOAD_ANNOTATION = "kubesim.io/workload"
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_LOG_LINES = 50_000
KEEP_INSTANCES = 3  # the newest, the previous one (logs --previous) and one more


# -- logs ------------------------------------------------------------------------------------
class _Log:
    """One container instance's log: the newest ``MAX_LOG_LINES`` entries (LogLines are never mutated)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines: list[LogLine] = []
        self.dropped = 0  # entries trimmed from the front so far

    def add(self, stream: str, text: str, when: float | None = None) -> None:
        with self._lock:
            self.lines.append(LogLine(when if when is not None else time.time(), stream, text))
            if len(self.lines) > MAX_LOG_LINES:
                cut = len(self.lines) - MAX_LOG_LINES
                del self.lines[:cut]
                self.dropped += cut

    def snapshot(self) -> list[LogLine]:
        with self._lock:
            return list(self.lines)

    def since(self, position: int) -> tuple[list[LogLine], int]:
        """Entries from absolute position ``position`` on, and the position after them."""
        with self._lock:
            start = max(0, position - self.dropped)
            return self.lines[start:], self.dropped + len(self.lines)


class _LineSink(sh.Output):
    """Shell output into a container log, one entry per line."""

    def __init__(self, logbuf: _Log, stream: str) -> None:
        self.log = logbuf
        self.stream = stream
        self._buf = b""

    def write(self, data: bytes) -> None:
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.log.add(self.stream, line.decode("utf-8", "replace"))

    def flush(self) -> None:
        if self._buf:
            self.log.add(self.stream, self._buf.decode("utf-8", "replace"))
            self._buf = b""


class _TtyOutput(sh.Output):
    """A terminal's output processing (ONLCR): ``\\n`` -> ``\\r\\n``."""

    def __init__(self, inner: sh.Output) -> None:
        self.inner = inner

    def write(self, data: bytes) -> None:
        self.inner.write(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


# -- records ---------------------------------------------------------------------------------
@dataclass
class _Instance:
    name: str
    seq: int
    kind: str  # process | shell | simulated
    state: ContainerState
    log: _Log
    fs: ContainerFS
    env: dict[str, str]
    container: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    killed: bool = False
    proc: subprocess.Popen | None = None
    ports: dict[int, int] = field(default_factory=dict)
    thread: threading.Thread | None = None


@dataclass
class _PodRecord:
    uid: str
    namespace: str
    name: str
    dir: str
    pod: dict[str, Any]
    volumes: dict[str, tuple[str, bool]] = field(default_factory=dict)
    instances: dict[str, list[_Instance]] = field(default_factory=dict)


def pod_hostname(pod: dict[str, Any]) -> tuple[str, str]:
    """(hostname, fqdn) as the kubelet sets them (``GeneratePodHostNameAndDomain``)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    host = spec.get("hostname") or meta.get("name", "")
    host = host[:63].rstrip("-.")
    fqdn = host
    if spec.get("subdomain"):
        fqdn = f"{host}.{spec['subdomain']}.{meta.get('namespace', 'default')}.svc.{CLUSTER_DOMAIN}"
    if spec.get("setHostnameAsFQDN") and fqdn != host:
        host = fqdn
    return host, fqdn


def search_path(namespace: str) -> list[str]:
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class NodeRuntime:
    """The container runtime of one node (see the module docstring)."""

    def __init__(self, ctx: Any, node_name: str) -> None:
        self.ctx = ctx
        self.node = node_name
        self._lock = threading.RLock()
        self._pods: dict[str, _PodRecord] = {}
        extra = getattr(ctx, "extra", None)
        if extra is None:
            extra = {}
        self.resolvers = ensure_cluster_dns(extra, ctx.api)

    # -- pods ----------------------------------------------------------------------------
    def pod_dir(self, uid: str) -> str:
        return storage.pod_dir(self.ctx.state_root, self.node, uid)

    def prepare_pod(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        d = self.pod_dir(uid)
        os.makedirs(d, exist_ok=True)
        vols = setup_volumes(self.ctx, pod, d)
        with self._lock:
            rec = self._pods.get(uid)
            if rec is None:
                rec = _PodRecord(uid, meta.get("namespace", "default"), meta.get("name", ""), d, pod)
                self._pods[uid] = rec
            rec.pod = pod
            rec.volumes = vols

    def remove_pod(self, pod_uid: str) -> None:
        with self._lock:
            rec = self._pods.pop(pod_uid, None)
        if rec is not None:
            insts = [i for lst in rec.instances.values() for i in lst]
            for inst in insts:
                self._kill(inst)
            deadline = time.monotonic() + 5
            for inst in insts:
                inst.done.wait(max(0.0, deadline - time.monotonic()))
        shutil.rmtree(self.pod_dir(pod_uid), ignore_errors=True)

    def kill_all(self) -> None:
        with self._lock:
            insts = [i for rec in self._pods.values() for lst in rec.instances.values() for i in lst]
        for inst in insts:
            self._kill(inst)

    # -- containers ----------------------------------------------------------------------
    def start_container(self, pod: dict[str, Any], container: dict[str, Any]) -> ContainerState:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        with self._lock:
            rec = self._pods.get(uid)
        if rec is None:
            self.prepare_pod(pod)
            with self._lock:
                rec = self._pods[uid]
        rec.pod = pod
        name = container.get("name", "")
        with self._lock:
            history = rec.instances.setdefault(name, [])
            previous = history[-1] if history else None
            seq = previous.seq + 1 if previous else 0
        if previous is not None and previous.state.state == "running":
            self._kill(previous)
            previous.done.wait(5)
        try:
            cenv = envmod.resolve(self.ctx, pod, container)
        except envmod.ConfigError as exc:
            return ContainerState(state="waiting", reason="CreateContainerConfigError", message=str(exc))
        hostname, fqdn = pod_hostname(pod)
        mounts = self._mounts(rec, container, cenv)
        # The new instance's writable layer replaces the last one's when first used (ContainerFS).
        fs = ContainerFS(self._root_path(rec, name), mounts,
                         prepare=functools.partial(self._fresh_root, rec, name, mounts, pod, hostname, fqdn))
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, "HOME": "/root"}
        env.update(cenv)
        cid = "containerd://" + hashlib.sha256(f"{uid}/{name}/{seq}/{time.time_ns()}".encode()).hexdigest()
        state = ContainerState(state="running", started_at=time.time(), container_id=cid)
        inst = _Instance(name, seq, "simulated", state, _Log(), fs, env, container)
        with self._lock:
            history.append(inst)
            del history[:-KEEP_INSTANCES]
        workload, script = self._workload_for(pod, container)
        argv = [envmod.expand(str(a), cenv) for a in (container.get("command") or []) + (container.get("args") or [])]
        if workload and script:
            self._start_process(inst, rec, script, cenv)
            return dataclasses.replace(inst.state)
        if workload:
            inst.log.add("stderr", f"kubesim: unknown workload {workload!r} (known: "
                                   f"{', '.join(sorted(self.ctx.workloads)) or 'none'}); the container is simulated")
        started = dataclasses.replace(inst.state)  # a quick shell command may be done before we return
        if container.get("command") and sh.can_run(argv):
            self._start_shell(inst, rec, argv)
        return started

    def container_state(self, pod_uid: str, name: str) -> ContainerState | None:
        inst = self._newest(pod_uid, name)
        return None if inst is None else dataclasses.replace(inst.state)

    def container_state_name(self, pod_uid: str, name: str) -> str | None:
        """Only ``container_state(...).state``, without the copy: what the kubelet's relist polls."""
        inst = self._newest(pod_uid, name)
        return None if inst is None else inst.state.state

    def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        inst = self._newest(pod_uid, name)
        if inst is None or inst.state.state != "running":
            return
        if grace_seconds is None or grace_seconds <= 0:
            self._kill(inst)
            return
        self._term(inst)
        if inst.state.state == "running":
            t = threading.Timer(grace_seconds, self._kill, args=(inst,))
            t.daemon = True
            t.start()

    def logs(self, pod_uid: str, container: str, previous: bool = False) -> list[LogLine]:
        with self._lock:
            rec = self._pods.get(pod_uid)
            history = list(rec.instances.get(container, [])) if rec else []
        if previous:
            return history[-2].log.snapshot() if len(history) >= 2 else []
        return history[-1].log.snapshot() if history else []

    def logs_since(self, pod_uid: str, container: str, position: int) -> tuple[list[LogLine], int]:
        """The newest instance's log entries from ``position`` on (``kubectl logs -f`` polls this)."""
        inst = self._newest(pod_uid, container)
        return inst.log.since(position) if inst is not None else ([], position)

    def endpoint(self, pod_uid: str, port: int) -> Endpoint | None:
        with self._lock:
            rec = self._pods.get(pod_uid)
            newest = [lst[-1] for lst in rec.instances.values() if lst] if rec else []
        for inst in newest:
            if inst.state.state == "running" and inst.proc is not None and inst.proc.poll() is None \
                    and int(port) in inst.ports:
                return Endpoint("127.0.0.1", inst.ports[int(port)], {"container": inst.name, "pid": inst.proc.pid})
        return None

    # -- exec ----------------------------------------------------------------------------
    def exec(self, pod: dict[str, Any], container: str, argv: list[str], stdin: bytes = b"",
             timeout: float | None = None) -> ExecResult:
        out, err = sh.BufferOutput(), sh.BufferOutput()
        stop = threading.Event()
        timer = None
        if timeout is not None and timeout > 0:
            timer = threading.Timer(timeout, stop.set)
            timer.daemon = True
            timer.start()
        try:
            shell, io = self._exec_shell(pod, container, sh.BytesInput(stdin), out, err, stop, False)
            code = shell.run_argv(list(argv), io)
        except sh.Stopped:
            raise TimeoutError(f'command "{" ".join(argv)}" timed out') from None
        finally:
            if timer is not None:
                timer.cancel()
        return ExecResult(code, out.getvalue(), err.getvalue())

    def exec_stream(self, pod: dict[str, Any], container: str, argv: list[str], stdin: sh.Input,
                    stdout: sh.Output, stderr: sh.Output, stop: threading.Event | None = None,
                    tty: bool = False) -> int:
        """Run argv in the exec shell with streaming I/O (the API server's exec handler uses this).

        Setting ``stop`` abandons the command (the session went away): it returns 137.
        """
        shell, io = self._exec_shell(pod, container, stdin, stdout, stderr, stop, tty)
        try:
            return shell.run_argv(list(argv), io)
        except sh.Stopped:
            return 137

    def _exec_shell(self, pod: dict[str, Any], container: str, stdin: sh.Input, stdout: sh.Output,
                    stderr: sh.Output, stop: threading.Event | None, tty: bool) -> tuple[sh.Shell, sh.IO]:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        uid = meta.get("uid", "")
        inst = self._newest(uid, container)
        if inst is not None:
            fs, env, cspec = inst.fs, dict(inst.env), inst.container
        else:
            cspec = next((c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                          if c.get("name") == container), {})
            fs, env = self._detached_view(uid, cspec), {"PATH": DEFAULT_PATH, "HOME": "/root"}
        hostname, fqdn = pod_hostname(pod)
        env.setdefault("HOSTNAME", hostname)
        if tty:
            env.setdefault("TERM", "xterm")
            stdout = _TtyOutput(stdout)
            stderr = stdout
        shell = sh.Shell(fs, env, hostname=hostname, fqdn=fqdn, pod_ip=(pod.get("status") or {}).get("podIP", ""),
                         search=search_path(meta.get("namespace", "default")), resolvers=self.resolvers,
                         stop=stop, cwd=cspec.get("workingDir") or "/")
        return shell, sh.IO(stdin, stdout, stderr, tty)

    # -- internals -----------------------------------------------------------------------
    def _newest(self, uid: str, name: str) -> _Instance | None:
        with self._lock:
            rec = self._pods.get(uid)
            history = rec.instances.get(name) if rec else None
            return history[-1] if history else None

    def _detached_view(self, uid: str, cspec: dict[str, Any]) -> ContainerFS:
        with self._lock:
            rec = self._pods.get(uid)
        root = os.path.join(self.pod_dir(uid), "containers", storage._safe(cspec.get("name", "")), "rootfs")
        mounts = self._mounts(rec, cspec, {}) if rec is not None else []
        return ContainerFS(root, mounts)

    def _mounts(self, rec: _PodRecord, container: dict[str, Any], cenv: dict[str, str]) -> list[Mount]:
        out = []
        for vm in container.get("volumeMounts") or []:
            vol = rec.volumes.get(vm.get("name", ""))
            if vol is None:
                continue
            host, ro = vol
            sub = vm.get("subPath") or (envmod.expand(vm["subPathExpr"], cenv) if vm.get("subPathExpr") else "")
            if sub:
                parts = [p for p in normalize(sub).split("/") if p]
                host = os.path.join(host, *parts)
                if not os.path.exists(host) and not ro:
                    os.makedirs(host, exist_ok=True)
            out.append(Mount(normalize(vm.get("mountPath", "/")), host, bool(vm.get("readOnly")) or ro,
                             vm.get("name", "")))
        return out

    @staticmethod
    def _root_path(rec: _PodRecord, name: str) -> str:
        return os.path.join(rec.dir, "containers", storage._safe(name), "rootfs")

    def _fresh_root(self, rec: _PodRecord, name: str, mounts: list[Mount], pod: dict[str, Any], hostname: str,
                    fqdn: str) -> str:
        """A new writable layer for a new container instance, with its mount points and /etc files."""
        root = self._root_path(rec, name)
        shutil.rmtree(root, ignore_errors=True)
        for d in ("etc", "tmp", "root", "var/log", "bin", "usr/bin"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        for m in mounts:
            target = os.path.join(root, *[p for p in m.path.split("/") if p])
            if os.path.isfile(m.host):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if not os.path.exists(target):
                    open(target, "ab").close()
            else:
                os.makedirs(target, exist_ok=True)
        etc = os.path.join(root, "etc")
        ip = (pod.get("status") or {}).get("podIP", "")
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        hosts = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
                 "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
                 "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
        if ip:
            hosts.append(f"{ip}\t{fqdn}\t{hostname}" if fqdn != hostname else f"{ip}\t{hostname}")
        aliases = (pod.get("spec") or {}).get("hostAliases") or []
        if aliases:
            hosts.append("")
            hosts.append("# Entries added by HostAliases.")
            for a in aliases:
                hosts.append("\t".join([a.get("ip", "")] + list(a.get("hostnames") or [])))
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("\n".join(hosts) + "\n")
        with open(os.path.join(etc, "hostname"), "w") as f:
            f.write(hostname + "\n")
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(f"search {' '.join(search_path(ns))}\nnameserver {sh.CLUSTER_DNS_IP}\noptions ndots:5\n")
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        return root

    def _workload_for(self, pod: dict[str, Any], container: dict[str, Any]) -> tuple[str, str]:
        ann = ((pod.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_ANNOTATION, "").strip()
        if not ann:
            return "", ""
        name = container.get("name", "")
        if "=" in ann:
            mapping = dict(p.strip().split("=", 1) for p in ann.split(",") if "=" in p)
            workload = mapping.get(name, "").strip()
        else:
            containers = (pod.get("spec") or {}).get("containers") or []
            workload = ann if containers and containers[0].get("name") == name else ""
        if not workload:
            return "", ""
        return workload, (self.ctx.workloads or {}).get(workload, "")

    def _start_process(self, inst: _Instance, rec: _PodRecord, script: str, cenv: dict[str, str]) -> None:
        container = inst.container
        args = [envmod.expand(str(a), cenv) for a in container.get("args") or []]
        penv = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1", "HOME": inst.fs.root, "HOSTNAME": inst.env.get("HOSTNAME", "")}
        penv.update(cenv)
        penv["KUBESIM_MOUNTS"] = json.dumps({m.path: m.host for m in inst.fs.mounts}, sort_keys=True)
        penv["KUBESIM_ROOT"] = inst.fs.root
        for p in container.get("ports") or []:
            cport = p.get("containerPort")
            if cport and int(cport) not in inst.ports:
                inst.ports[int(cport)] = _free_port()
                penv[f"KUBESIM_PORT_{int(cport)}"] = str(inst.ports[int(cport)])
        cwd = inst.fs.root
        wd = container.get("workingDir")
        if wd:
            try:
                host = inst.fs.host_path(wd)
                os.makedirs(host, exist_ok=True)
                cwd = host
            except OSError:
                pass
        try:
            proc = subprocess.Popen([sys.executable, script, *args], cwd=cwd, env=penv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            inst.log.add("stderr", f"kubesim: cannot start workload: {exc}")
            self._finish(inst, 128, reason="StartError", message=str(exc))
            return
        inst.kind = "process"
        inst.proc = proc
        inst.state.process = True
        readers = [threading.Thread(target=self._pump, args=(pipe, inst.log, stream), daemon=True,
                                    name=f"kubesim-log-{rec.name}-{inst.name}")
                   for pipe, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        for r in readers:
            r.start()

        def wait() -> None:
            rc = proc.wait()
            for r in readers:
                r.join(2)
            code = 128 - rc if rc < 0 else rc
            self._finish(inst, code)

        inst.thread = threading.Thread(target=wait, daemon=True, name=f"kubesim-proc-{rec.name}-{inst.name}")
        inst.thread.start()

    @staticmethod
    def _pump(pipe: Any, logbuf: _Log, stream: str) -> None:
        try:
            for line in iter(pipe.readline, b""):
                logbuf.add(stream, line.rstrip(b"\n").decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def _start_shell(self, inst: _Instance, rec: _PodRecord, argv: list[str]) -> None:
        inst.kind = "shell"
        pod = rec.pod
        meta = pod.get("metadata") or {}
        hostname, fqdn = pod_hostname(pod)
        out, err = _LineSink(inst.log, "stdout"), _LineSink(inst.log, "stderr")
        shell = sh.Shell(inst.fs, inst.env, hostname=hostname, fqdn=fqdn,
                         pod_ip=(pod.get("status") or {}).get("podIP", ""),
                         search=search_path(meta.get("namespace", "default")), resolvers=self.resolvers,
                         stop=inst.stop, cwd=inst.container.get("workingDir") or "/")

        def run() -> None:
            try:
                code = shell.run_argv(argv, sh.IO(sh.BytesInput(), out, err))
            except sh.Stopped:
                code = 137 if inst.killed else 143
            except Exception as exc:  # a kubesim bug: the container fails visibly
                log.exception("shell container %s/%s failed", rec.name, inst.name)
                err.write(f"kubesim: internal shell error: {exc}\n".encode())
                code = 1
            out.flush()
            err.flush()
            self._finish(inst, code)

        inst.thread = threading.Thread(target=run, daemon=True, name=f"kubesim-sh-{rec.name}-{inst.name}")
        inst.thread.start()

    def _finish(self, inst: _Instance, code: int, reason: str = "", message: str = "") -> None:
        with self._lock:
            if inst.state.state == "terminated":
                return
            inst.state.state = "terminated"
            inst.state.exit_code = code
            inst.state.reason = reason or ("Completed" if code == 0 else "Error")
            inst.state.message = message
            inst.state.finished_at = time.time()
        inst.done.set()

    def _term(self, inst: _Instance) -> None:
        if inst.kind == "process" and inst.proc is not None:
            _signal(inst.proc, signal.SIGTERM)
        elif inst.kind == "shell":
            inst.stop.set()
        else:
            self._finish(inst, 0)

    def _kill(self, inst: _Instance) -> None:
        if inst.state.state != "running":
            return
        inst.killed = True
        if inst.kind == "process" and inst.proc is not None:
            _signal(inst.proc, signal.SIGKILL)
        elif inst.kind == "shell":
            inst.stop.set()
        else:
            self._finish(inst, 137)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except (ProcessLookupError, OSError):
            pass
