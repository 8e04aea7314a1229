"""The sandbox daemon: moto's server plus the cloud that turns its records into kubesim clusters.

Run as ``python -m kubekit.sandbox.daemon --home DIR`` (``kubekit sandbox up``
does it, detached). Prints ``ready <aws endpoint> control=<port>`` once AWS answers
and every cluster is back, then serves until SIGTERM.

Control channel: a small HTTP server on 127.0.0.1 (its port in that line, and so in
``sandbox.json``) for what AWS has no API for, such as making a member cluster's API
server unreachable. Every request must carry ``Authorization: Bearer <token>``; the
token is new at every start and stored in ``$KUBEKIT_HOME/control.token`` (mode 0600),
so only the user who owns the home can use it. Routes (JSON)::

    GET  /v1/clusters                       the clusters the cloud runs, with "reachable"
    POST /v1/reachability                   {"cluster": NAME, "region": R?, "reachable": BOOL,
                                             "mode": "timeout" | "reset"}
    POST /v1/world/unload                   stop the clusters and moto's recording (AWS answers
                                             503) so a checkpoint restore can swap the files
    POST /v1/world/load                     load the swapped-in world in place; 409 when only a
                                             restart can (no moto snapshot matches its recording)

Reachability is not persisted: a restarted daemon serves every cluster again.

Persistence: moto keeps state in memory only, so the daemon records every AWS
request with moto's own recorder (``moto-api`` recorder) under a fixed random
seed; a restarted daemon seeds moto the same way and replays the recording, which
rebuilds the same resources with the same ids. kubesim clusters persist their
objects and volume data themselves under ``clusters/``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import random
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from .awsconfig import ACCESS_KEY, ACCOUNT_ID

# moto reads these when it loads; they make it behave more like AWS (sandbox realism):
# managed IAM policies exist, bad AMIs and instance types are rejected (feasibility.md §2).
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.setdefault("MOTO_ENABLE_AMI_VALIDATION", "true")
os.environ.setdefault("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")
# One account, whatever the access key (the sandbox has no other): otherwise moto looks every
# request's key up in IAM across all six partitions, building six IAM backends of ~1,500 managed
# policies each on the first request (about a second of CPU at every start).
os.environ.setdefault("MOTO_ACCOUNT_ID", ACCOUNT_ID)
# Everything the daemon calls is on 127.0.0.1 (moto's replay, boto3 clients): never through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get(_var, "")]))

log = logging.getLogger("kubekit.sandbox.daemon")
# Requests to the sandbox go to 127.0.0.1 directly, never through a proxy from the environment.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free(port: int) -> bool:
    with socket.socket() as s:
        # werkzeug binds with SO_REUSEADDR too: connections in TIME_WAIT do not make the port taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _state(home: Path) -> dict:
    try:
        return json.loads((home / "aws" / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_state(home: Path, data: dict) -> None:
    path = home / "aws" / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


class MotoServer:
    """moto's WSGI app on 127.0.0.1, one request at a time.

    moto handles requests on threads and draws ids from one seeded random
    generator; serialising requests makes the recorded order the order in which
    ids were drawn, which is what a replay needs to rebuild the same ids.
    """

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                                    create_backend_app)
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.lock = lock = threading.Lock()

        from moto.moto_api._internal import mock_random

        def serialised(environ, start_response):  # type: ignore[no-untyped-def]
            if self.paused:  # a checkpoint is being swapped in: retryable, as AWS's own 503s are
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"message": "the sandbox is restoring a checkpoint: retry in a moment"}']
            with lock:
                # Materialise the body inside the lock: moto's recorder and handlers run here.
                if not _unrecorded(environ):
                    try:
                        return list(app(environ, start_response))
                    finally:
                        if environ.get("REQUEST_METHOD") != "GET":  # reads are GETs for the JSON APIs only
                            self.on_change()
                # A request the recording leaves out must not move the seeded generator either:
                # moto draws every response's request id from it (gen_amzn_requestid_long), so a
                # token check between two creates would shift every id drawn after it on replay.
                state = mock_random.getstate()
                try:
                    return list(app(environ, start_response))
                finally:
                    mock_random.setstate(state)

        self.paused = False
        self.on_change: Any = lambda: None  # the cloud's poke: a request may have changed AWS
        self._server = make_server("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


def start_moto(home: Path) -> tuple[MotoServer, str]:
    """moto on 127.0.0.1 (the previous port if it is free, so the endpoint stays the same)."""
    prev = int(_state(home).get("port", 0))
    port = prev if prev and _free(prev) else 0
    server = MotoServer(port)
    server.start()
    return server, server.url


def restore(home: Path, endpoint: str, *, snapshot: bool = False) -> int:
    """Seed moto and replay the recording of everything done before; returns requests replayed.

    With ``snapshot`` moto's state (random generator included) was already loaded from
    the snapshot that matches the recording (:mod:`.motostate`): nothing is seeded or replayed.
    """
    from moto.moto_api import recorder

    state = _state(home)
    seed = int(state.get("seed") or random.SystemRandom().randrange(1, 2**31))
    recording = home / "aws" / "recording.jsonl"
    recording.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    recorder._location = str(recording)  # noqa: SLF001 - moto reads it from an env var at import
    replayed = 0
    if not snapshot:
        _LOOPBACK.open(urllib.request.Request(f"{endpoint}/moto-api/seed?a={seed}", method="POST"),
                       timeout=10).read()
        if recording.exists() and recording.stat().st_size:
            replayed = sum(1 for _ in recording.open())
            recorder.replay_recording(target_host=endpoint)
    _skip_token_checks(recorder)
    recorder.start_recording()
    port = int(endpoint.rsplit(":", 1)[1])
    _save_state(home, {"seed": seed, "port": port})
    return replayed


def _unrecorded(environ: dict[str, Any]) -> bool:
    """An EKS token check: a presigned STS GetCallerIdentity GET (see :func:`_skip_token_checks`)."""
    return environ.get("REQUEST_METHOD") == "GET" and "Action=GetCallerIdentity" in environ.get("QUERY_STRING", "")


def _skip_token_checks(recorder: Any) -> None:
    """Do not record the STS GetCallerIdentity calls of EKS token checks (presigned GET URLs).

    Every kubectl command mints a new token that kubesim checks once against this STS, so
    recording them would grow the recording (and every later start's replay) without end.
    They change nothing, the STS backend exists from the warm-up on, and the random numbers
    moto draws for their responses are given back (``MotoServer``), so leaving them out cannot
    shift the ids a replay rebuilds. Other reads are
    recorded: a region's first call, even a read, creates its backend (with random ids).
    """
    if getattr(recorder, "_kubekit_wrapped", False):
        return
    original = recorder._record_request

    def record(request: Any, body: bytes | None = None) -> None:
        if request.method == "GET" and "Action=GetCallerIdentity" in (getattr(request, "raw_url", "") or ""):
            return
        original(request, body)

    recorder._record_request = record
    recorder._kubekit_wrapped = True


_FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
# One read per service, as raw HTTP: moto routes on the credential scope of the Authorization
# header and checks no signature, and a boto3 client would first parse the service's model
# (EC2's alone is 0.3 s), which the daemon never needs. (service, method, path, body, headers)
WARM_UP_CALLS: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("eks", "GET", "/clusters", "", {}),
    ("autoscaling", "POST", "/", "Action=DescribeAutoScalingGroups&Version=2011-01-01", _FORM),
    ("elasticloadbalancing", "POST", "/", "Action=DescribeLoadBalancers&Version=2015-12-01", _FORM),
    ("ec2", "POST", "/", "Action=DescribeAvailabilityZones&Version=2016-11-15", _FORM),
    ("iam", "POST", "/", "Action=ListRoles&MaxItems=1&Version=2010-05-08", _FORM),
    ("sts", "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", _FORM),
    ("ssm", "POST", "/", json.dumps({"Name": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}),
     {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"}),
)


def warm_up(endpoint: str) -> None:
    """moto's first EC2/IAM calls load large tables (1-2 s): pay that before saying ready."""
    from moto.moto_api import recorder

    recorder.stop_recording()  # warm-up reads are not part of anybody's history
    from moto.backends import get_backend

    from .motostate import SERVICES

    # Loading a service's models draws random numbers too: load every one the sandbox uses now.
    for service in SERVICES:
        get_backend(service)  # type: ignore[arg-type]
    for service, method, path, body, headers in WARM_UP_CALLS:
        auth = (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")
        request = urllib.request.Request(endpoint + path, data=body.encode() if body else None, method=method,
                                         headers={**headers, "Authorization": auth})
        with _LOOPBACK.open(request, timeout=30) as answer:
            answer.read()


class NeedsRestart(RuntimeError):
    """A world that cannot be loaded in place (no snapshot matches its recording): restart the daemon."""


class World:
    """moto's state and the kubesim clusters made from it, loaded at start.

    A checkpoint restore unloads it and loads the swapped-in files in place, without a new
    process: moto's modules and tables stay loaded, which is most of a start's cost. In place
    needs the snapshot of the new recording (every checkpoint has one: it is saved from a
    clean stop); otherwise the caller restarts the daemon, which can replay.
    """

    def __init__(self, home: Path, server: MotoServer, endpoint: str, profile: str,
                 workloads: dict[str, str]) -> None:
        self.home, self.server, self.endpoint = home, server, endpoint
        self.profile, self.workloads = profile, workloads
        self.cloud: Any = None
        self.lock = threading.Lock()

    def load(self, phase: Any, *, in_place: bool = False) -> dict[str, Any]:
        from . import awsconfig, motostate
        from .cloud import Cloud

        snapshot = motostate.load(self.home)
        if snapshot:
            phase("snapshot")
        elif in_place:
            raise NeedsRestart("no snapshot of moto's state matches the restored recording")
        else:
            # Warm up before seeding: loading moto's tables draws random numbers, and the replay must see
            # the same random sequence as the recorded run did.
            cached = motostate.load_warm()
            warm_up(self.endpoint)
            if not cached:
                motostate.save_warm()
            phase("warm_cache" if cached else "warm_up")
        replayed = restore(self.home, self.endpoint, snapshot=snapshot)
        phase("replay")
        awsconfig.write(self.home, self.endpoint)
        self.server.paused = False
        cloud = Cloud(self.home, self.endpoint, profile=self.profile, workloads=self.workloads)
        cloud.start()
        self.cloud = cloud
        self.server.on_change = cloud.poke
        phase("clusters")
        return {"replayed": replayed, "from_snapshot": snapshot}

    def unload(self) -> None:
        """Stop the clusters (their files closed) and moto's recording; AWS answers 503 until the next load."""
        from moto.moto_api import recorder

        from . import motostate

        self.server.paused = True
        self.server.on_change = lambda: None
        with self.server.lock:  # no request half done: the snapshot matches the recording
            recorder.stop_recording()
            motostate.save(self.home)  # should the restore fail, this world loads again in place
        if self.cloud is not None:
            self.cloud.stop()
            self.cloud = None

    def clusters(self) -> list[dict[str, Any]]:
        return self.cloud.describe() if self.cloud is not None else []


def _write_status(home: Path, status: dict[str, Any]) -> None:
    (home / "sandbox.status.json").write_text(json.dumps(status))


def _timer() -> tuple[dict[str, float], Any, float]:
    t0 = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - t0, 3)
    return phases, phase, t0


TOKEN_FILE = "control.token"


class ControlServer:
    """The daemon's authenticated control channel on 127.0.0.1 (see the module docstring)."""

    def __init__(self, home: Path, world: World) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.world = world
        self.token = secrets.token_urlsafe(32)
        path = home / TOKEN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        os.replace(tmp, path)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "kubekit-sandbox"

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("control: " + fmt, *args)

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                given = self.headers.get("Authorization", "")
                ok = given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(),
                                                                         outer.token.encode())
                if not ok:
                    self._reply(401, {"error": "unauthorised: send the token in $KUBEKIT_HOME/control.token"})
                return ok

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/clusters":
                    self._reply(200, outer.world.clusters())
                else:
                    self._reply(404, {"error": f"no route {self.path}"})

            def _world(self, action: str) -> None:
                world = outer.world
                with world.lock:
                    try:
                        if action == "unload":
                            world.unload()
                            self._reply(200, {"loaded": False})
                            return
                        phases, phase, t0 = _timer()
                        out = world.load(phase, in_place=True)
                    except NeedsRestart as exc:
                        self._reply(409, {"error": str(exc)})
                        return
                    except Exception as exc:  # noqa: BLE001 - the caller puts the previous world back
                        log.exception("loading the world in place failed")
                        world.unload()
                        self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})
                        return
                status = {"endpoint": world.endpoint, **out, "control_port": outer.port, "reloaded": True,
                          "started_in_s": round(time.monotonic() - t0, 3), "phases_s": phases,
                          "cpu_s": round(time.process_time(), 3)}
                _write_status(world.home, status)
                log.info("world loaded in place in %.2fs", status["started_in_s"])
                self._reply(200, status)

            def do_POST(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                if self.path.rstrip("/") in ("/v1/world/unload", "/v1/world/load"):
                    self._world(self.path.rstrip("/").rsplit("/", 1)[1])
                    return
                if self.path.rstrip("/") != "/v1/reachability":
                    self._reply(404, {"error": f"no route {self.path}"})
                    return
                if outer.world.cloud is None:
                    self._reply(409, {"error": "the sandbox is restoring a checkpoint: retry in a moment"})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
                    name, reachable = body.get("cluster"), body.get("reachable")
                    if not isinstance(name, str) or not isinstance(reachable, bool):
                        raise ValueError("send {\"cluster\": NAME, \"reachable\": true|false}")
                except (ValueError, TypeError, AttributeError) as exc:
                    self._reply(400, {"error": str(exc)})
                    return
                try:
                    out = outer.world.cloud.set_reachable(name, reachable, mode=body.get("mode") or "timeout",
                                                    region=body.get("region"))
                except KeyError as exc:
                    self._reply(404, {"error": exc.args[0] if exc.args else str(exc)})
                except ValueError as exc:
                    self._reply(400, {"error": str(exc)})
                else:
                    self._reply(200, out)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="control", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _preload(fn: Any) -> None:
    try:
        fn()
    except Exception:  # the cluster's own import will raise it where it matters
        log.debug("preload failed", exc_info=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kubekit.sandbox.daemon")
    ap.add_argument("--home", required=True)
    ap.add_argument("--profile", default="fast", help="kubesim timing profile for the clusters")
    ap.add_argument("--workload", action="append", default=[], metavar="NAME=SCRIPT")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    home = Path(args.home).absolute()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    workloads = dict(item.split("=", 1) for item in args.workload if "=" in item)

    from . import motostate
    from .cloud import preload

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    phases, phase, t0 = _timer()
    server, endpoint = start_moto(home)
    phase("moto")
    world = World(home, server, endpoint, args.profile, workloads)
    loaded = world.load(phase)
    control = ControlServer(home, world)
    control.start()
    _write_status(home, {"endpoint": endpoint, **loaded, "control_port": control.port,
                         "started_in_s": round(time.monotonic() - t0, 3), "phases_s": phases,
                         "cpu_s": round(time.process_time(), 3)})
    print(f"ready {endpoint} control={control.port}", flush=True)
    if not world.cloud.sims:  # nothing restored: import kubesim while the client plans and applies
        threading.Thread(target=_preload, args=(preload,), name="preload", daemon=True).start()
    log.info("sandbox ready in %.2fs (%d AWS requests replayed)", time.monotonic() - t0, loaded["replayed"])
    try:
        stop.wait()
    finally:
        control.stop()
        with world.lock:
            if world.cloud is not None:
                world.cloud.stop()
            server.stop()
            if not server.paused:  # a half-restored world is not worth a snapshot
                motostate.save(home)  # after the server: no request can change moto any more
    return 0


if __name__ == "__main__":
    sys.exit(main())
