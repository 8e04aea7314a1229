"""A snapshot of moto's state next to its recording, so a restart need not replay it.

The recording (``aws/recording.jsonl``) stays the truth: a restarted daemon seeds
moto and replays it, which rebuilds every resource with the same ids. That costs
about 10 ms per recorded request, and a three-cluster world has a few hundred.
So at a clean stop, with moto's server already shut, the daemon also pickles
moto's backends and its random generator into ``aws/moto-state.pickle``, stamped
with moto's version and the digest of the recording it matches. The next start
loads it instead of replaying when both still match; if anything differs (the
daemon was killed after more requests, a checkpoint restored an older recording,
another moto), or the snapshot does not load, it replays as before.

The random generator's state is part of the snapshot: after loading, moto draws
the same ids a replay would have led to, so the recording stays replayable.
The file is written with mode 0600 in the sandbox's own 0700 home; like the rest
of that home it is trusted (unpickling runs code).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import cloudpickle

log = logging.getLogger("kubekit.sandbox.motostate")

# Every moto service the sandbox uses (kubekit.aws, the cloud, teardown's checks).
SERVICES = ("ec2", "eks", "iam", "sts", "ssm", "autoscaling", "elbv2", "elb")
SNAPSHOT = Path("aws") / "moto-state.pickle"
RECORDING = Path("aws") / "recording.jsonl"
FORMAT = 1
# moto reads these at import (kubekit.sandbox.daemon sets them): state made under others differs.
MOTO_ENV = ("MOTO_IAM_LOAD_MANAGED_POLICIES", "MOTO_ENABLE_AMI_VALIDATION", "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION",
            "MOTO_ACCOUNT_ID")


def _defaultdict_of(cls: type, factory: Any) -> Any:
    obj = cls.__new__(cls)
    obj.default_factory = factory
    return obj


class _Pickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle, for the lambdas some backends hold (ssm's tags are a defaultdict(lambda: defaultdict(dict))),
    and defaultdict subclasses whose ``__init__`` takes more than a factory (ssm's ParameterDict), which
    plain pickle rebuilds by calling ``cls(factory)``."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:
            return (_defaultdict_of, (type(obj), obj.default_factory), getattr(obj, "__dict__", None) or None,
                    None, iter(obj.items()))
        return super().reducer_override(obj)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        return "none"
    return h.hexdigest()


def _stamp(recording: Path | None) -> dict[str, Any]:
    import moto

    stamp = {"format": FORMAT, "moto": moto.__version__, "env": {k: os.environ.get(k) for k in MOTO_ENV}}
    return stamp if recording is None else {**stamp, "recording": _digest(recording)}


def _dump(path: Path, recording: Path | None) -> bool:
    from moto.backends import get_backend
    from moto.moto_api._internal import mock_random

    tmp = path.with_suffix(".tmp")
    try:
        # One dump for all services: objects shared between them stay shared when loaded.
        state = {"backends": {svc: dict(get_backend(svc)) for svc in SERVICES},  # type: ignore[call-overload]
                 "random": mock_random.getstate()}
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump({**_stamp(recording), "state": state})
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getvalue())
        tmp.replace(path)
        return True
    except Exception:  # an optimisation: the recording (or the warm-up) still does everything
        log.warning("could not pickle moto's state to %s", path, exc_info=True)
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return False


def _load(path: Path, recording: Path | None, *, restore_random: bool) -> bool:
    if not path.exists():
        return False
    try:
        data = pickle.loads(path.read_bytes())
    except Exception:
        log.warning("moto state %s does not load; ignored", path, exc_info=True)
        return False
    stamp = _stamp(recording)
    if {k: data.get(k) for k in stamp} != stamp:
        log.info("moto state %s is stale (made for %s); ignored", path, {k: data.get(k) for k in ("moto", "format")})
        return False
    from moto.backends import get_backend
    from moto.moto_api._internal import mock_random

    for svc, accounts in data["state"]["backends"].items():
        live = get_backend(svc)  # type: ignore[call-overload]
        live.clear()
        live.update(accounts)
    if restore_random:
        mock_random.setstate(data["state"]["random"])
    return True


def save(home: Path) -> bool:
    """Pickle moto's backends; call only when no request can arrive any more. False if it could not."""
    return _dump(home / SNAPSHOT, home / RECORDING)


def load(home: Path) -> bool:
    """Put the snapshot's state into moto if it matches the recording; False (nothing changed) otherwise."""
    return _load(home / SNAPSHOT, home / RECORDING, restore_random=True)


def discard(home: Path) -> None:
    (home / SNAPSHOT).unlink(missing_ok=True)


# -- the warm cache --------------------------------------------------------------------------------
# A fresh sandbox's moto, after its warm-up and before anything is recorded, is the same for every
# home: tables loaded, the region's default VPC, IAM's ~1,200 managed policies parsed. Building it
# is most of a fresh start's CPU; loading it pickled takes a fraction. It is kept per user, beside
# other caches, keyed by moto's version and settings. The warm-up's HTTP calls still run after a load
# (they are cheap then), so moto's per-service set-up on first request happens before the seed either
# way, and a recording made after a cached start replays the same without the cache.

def warm_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    import moto

    return root / "kubekit" / f"moto-{moto.__version__}-warm.pickle"


def load_warm() -> bool:
    return _load(warm_cache(), None, restore_random=False)


def save_warm() -> bool:
    return _dump(warm_cache(), None)
