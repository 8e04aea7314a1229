"""Pet data: talk to petkv through the API server's pod proxy, keep a ledger, and check it; markers by exec.

Every request goes to ``/api/v1/namespaces/<ns>/pods/<pet>:<port>/proxy/<path>``
through the official client's transport (its TLS, token and connection pool),
so the same code reaches a petkv process in the sandbox and a pod on EKS. Keys
are routed to their owner with petkv's own hash (:func:`kubekit.workloads.petkv.owner_ordinal`).

A :class:`Ledger` remembers every *acknowledged* write (petkv acknowledges only
after its fsync), so :meth:`PetKV.check` can tell lost writes (acknowledged but
gone: the RPO) from writes that never were acknowledged. Drills use the same
ledger. For an image that is not petkv, :func:`write_markers` and
:func:`read_markers` put a marker file in each pet's volume through ``exec``.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import quote

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from ..errors import KitError
from ..workloads.petkv import checksum, owner_ordinal
from ._live import api_client, pets_now
from ._spec import PetSet

MARKER_FILE = "kubekit-marker"


class PetKVError(KitError):
    """A petkv request failed (the pet is down, unreachable, or refused)."""

    def __init__(self, pet: str, what: str, status: int, message: str) -> None:
        self.pet = pet
        self.status = status
        super().__init__(f"{what} on {pet} failed: {status} {message}".rstrip())


@dataclass
class Ledger:
    """Acknowledged writes: key -> value, and who acknowledged them; failures are not acknowledged.

    ``events`` holds every attempt as (wall time, key, owner, acknowledged), in
    the order the answers came back: a drill reads from it when writes to a pet
    stopped and resumed (its RTO); an acknowledged key that a pet no longer has
    is lost (the RPO, see :meth:`PetKV.check`).
    """

    acked: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # key -> why
    seconds: float = 0.0
    events: list[tuple[float, str, str, bool]] = field(default_factory=list)  # (wall time, key, owner, acked)

    @property
    def keys_per_second(self) -> float:
        return len(self.acked) / self.seconds if self.seconds > 0 else 0.0

    def per_pet(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pet in self.owners.values():
            counts[pet] = counts.get(pet, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (len(kv[0]), kv[0])))

    def summary(self) -> str:
        """Deterministic (no timings): how many writes each pet acknowledged."""
        spread = ", ".join(f"{p} {n}" for p, n in self.per_pet().items())
        text = f"{len(self.acked)} writes acknowledged" + (f" ({spread})" if spread else "")
        if self.failed:
            text += f"; {len(self.failed)} failed (not acknowledged)"
        return text

    def rate(self) -> str:
        return f"{len(self.acked)} keys in {self.seconds:.2f} s = {self.keys_per_second:.0f} keys/s"

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass
class DataReport:
    """Ledger versus what the pets hold."""

    held: dict[str, int] = field(default_factory=dict)  # pet -> keys it holds
    expected_checksums: dict[str, str] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)  # acknowledged, missing on the owner
    wrong: list[str] = field(default_factory=list)  # present with another value
    misplaced: list[str] = field(default_factory=list)  # held by a pet that does not own them
    unreachable: list[str] = field(default_factory=list)  # pets that did not answer
    acked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.wrong or self.misplaced or self.unreachable)

    def summary(self) -> str:
        if self.ok:
            return f"all {self.acked} acknowledged writes present on their owners"
        parts = []
        for what in ("lost", "wrong", "misplaced", "unreachable"):
            items = getattr(self, what)
            if items:
                shown = ", ".join(items[:5]) + (" ..." if len(items) > 5 else "")
                parts.append(f"{len(items)} {what} ({shown})")
        return f"of {self.acked} acknowledged writes: " + "; ".join(parts)

    def __str__(self) -> str:
        return self.summary()


class PetKV:
    """A petkv client for one PetSet, through the API server's pod proxy."""

    def __init__(self, target: Any, ps: PetSet, *, timeout: float = 10.0) -> None:
        if not ps.is_petkv:
            raise KitError(f"{ps.name} runs {ps.workload}, not petkv: use write_markers/read_markers for its data")
        self.api = api_client(target)
        self.ps = ps
        self.timeout = timeout

    # -- transport ----------------------------------------------------------------------
    def path(self, pet: str, path: str) -> str:
        return f"/api/v1/namespaces/{self.ps.namespace}/pods/{pet}:{self.ps.port}/proxy{path}"

    def request(self, method: str, pet: str, path: str, body: bytes | None = None,
                timeout: float | None = None) -> tuple[int, bytes, dict[str, str]]:
        """One request to a pet; returns (status, body, headers). Transport failures raise PetKVError."""
        headers = {"Content-Type": "text/plain; charset=utf-8"} if body is not None else {}
        m, url, hdrs, b, _ = self.api.param_serialize(method, self.path(pet, path), header_params=headers,
                                                      body=body, auth_settings=["BearerToken"])
        try:
            resp = self.api.call_api(m, url, header_params=hdrs, body=b,
                                     _request_timeout=timeout or self.timeout)
            data = resp.read()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise PetKVError(pet, f"{method} {path}", 0, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return resp.status, data, {k.lower(): v for k, v in (resp.getheaders() or {}).items()}

    def _json(self, method: str, pet: str, path: str, body: bytes | None = None,
              ok: Iterable[int] = (200,)) -> Any:
        status, data, _ = self.request(method, pet, path, body)
        if status not in tuple(ok):
            raise PetKVError(pet, f"{method} {path}", status, _message(data))
        return json.loads(data) if data else None

    # -- keys ---------------------------------------------------------------------------
    def owner(self, key: str) -> str:
        return self.ps.pet(owner_ordinal(key, self.ps.shard_count, self.ps.first_shard_ordinal))

    def shard_of(self, key: str) -> str:
        """The shard a key belongs to, named by the pet that owns it (``kubekit.drills.Ledger(shard_of=...)``)."""
        return self.owner(key)

    def _owner_here(self, key: str) -> str:
        """The key's owner, which must be one of this set's pets (not another slice's)."""
        ordinal = owner_ordinal(key, self.ps.shard_count, self.ps.first_shard_ordinal)
        if not self.ps.holds(ordinal):
            raise PetKVError(self.ps.pet(ordinal), f"key {key}", 0,
                             f"is not in this slice (ordinals {self.ps.ordinals.start}..{self.ps.ordinals.stop - 1}); "
                             f"route keys over all slices with SlicedKV")
        return self.ps.pet(ordinal)

    def put(self, key: str, value: str) -> dict[str, Any]:
        """Write one key on its owner; returns petkv's acknowledgement (after its fsync)."""
        pet = self._owner_here(key)
        return dict(self._json("PUT", pet, f"/kv/{quote(key, safe='')}", value.encode("utf-8")))

    def get(self, key: str) -> str | None:
        pet = self._owner_here(key)
        status, data, _ = self.request("GET", pet, f"/kv/{quote(key, safe='')}")
        if status == 404 and b'"key"' in data:
            return None
        if status != 200:
            raise PetKVError(pet, f"GET /kv/{key}", status, _message(data))
        return data.decode("utf-8")

    def delete(self, key: str) -> bool:
        pet = self._owner_here(key)
        return bool(self._json("DELETE", pet, f"/kv/{quote(key, safe='')}")["deleted"])

    def put_on(self, pet: str, key: str, value: str) -> tuple[int, dict[str, Any]]:
        """Write a key on a chosen pet, owner or not (to show the refusal); returns (status, answer)."""
        status, data, _ = self.request("PUT", pet, f"/kv/{quote(key, safe='')}", value.encode("utf-8"))
        return status, json.loads(data) if data.startswith(b"{") else {"error": _message(data)}

    def dump(self, pet: str) -> dict[str, str]:
        """Every key a pet holds."""
        return dict(self._json("GET", pet, "/kv")["keys"])

    def identity(self, pet: str) -> dict[str, Any]:
        return dict(self._json("GET", pet, "/identity"))

    def identities(self, pets: Iterable[str], workers: int = 8) -> dict[str, dict[str, Any]]:
        """``/identity`` of each pet that answers (the others are left out)."""
        names = list(pets)

        def one(pet: str) -> tuple[str, dict[str, Any] | None]:
            try:
                return pet, self.identity(pet)
            except (PetKVError, ValueError):
                return pet, None

        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=min(workers, len(names))) as pool:
            return {p: i for p, i in pool.map(one, names) if i is not None}

    # -- batches ------------------------------------------------------------------------
    def write(self, n: int = 1000, *, prefix: str = "key", start: int = 0, workers: int = 8,
              ledger: Ledger | None = None, progress: bool | str = False) -> Ledger:
        """Write keys ``<prefix>-<i>`` = ``value-<i>`` for i in [start, start+n), each to its owner, concurrently.

        Failed writes are recorded as not acknowledged (nothing raises), so a
        drill can keep writing through a failure.
        """
        return _write_many(self, f"{self.ps.name}: writes", n, prefix, start, workers, ledger, progress)

    def write_batch(self, items: dict[str, str], ledger: Ledger | None = None) -> Ledger:
        """Write many keys with one request (and one fsync) per owner."""
        ledger = ledger if ledger is not None else Ledger()
        by_pet: dict[str, dict[str, str]] = {}
        for k, v in items.items():
            by_pet.setdefault(self.owner(k), {})[k] = v
        began = time.monotonic()
        for pet, chunk in sorted(by_pet.items()):
            try:
                self._json("POST", pet, "/batch", json.dumps({"put": chunk}).encode("utf-8"))
            except PetKVError as exc:
                ledger.failed.update({k: str(exc) for k in chunk})
                continue
            ledger.acked.update(chunk)
            ledger.owners.update({k: pet for k in chunk})
        ledger.seconds += time.monotonic() - began
        return ledger

    def check(self, ledger: Ledger) -> DataReport:
        """Compare the ledger with what every pet in the set holds now."""
        report = DataReport(acked=len(ledger.acked))
        expected: dict[str, dict[str, str]] = {}
        for k, v in ledger.acked.items():
            expected.setdefault(self.owner(k), {})[k] = v
        pets = [p.name for p in pets_now(self.api, self.ps).values()] or [self.ps.pet(o) for o in self.ps.ordinals]
        held: dict[str, dict[str, str]] = {}
        for pet in sorted(set(pets) | set(expected), key=lambda n: (len(n), n)):
            try:
                held[pet] = self.dump(pet)
            except PetKVError:
                report.unreachable.append(pet)
        for pet, keys in held.items():
            report.held[pet] = len(keys)
            report.misplaced += sorted(k for k in keys if self.owner(k) != pet)
            if set(keys) == set(expected.get(pet, {})):
                report.expected_checksums[pet] = checksum(expected.get(pet, {}))
        for pet, want in expected.items():
            have = held.get(pet)
            if have is None:
                continue
            report.lost += sorted(k for k in want if k not in have)
            report.wrong += sorted(k for k in want if k in have and have[k] != want[k])
        return report


def _write_many(client: "PetKV | SlicedKV", desc: str, n: int, prefix: str, start: int, workers: int,
                ledger: Ledger | None, progress: bool | str) -> Ledger:
    from tqdm.auto import tqdm

    ledger = ledger if ledger is not None else Ledger()
    items = [(f"{prefix}-{i:04d}", f"value-{i}") for i in range(start, start + n)]

    def one(item: tuple[str, str]) -> tuple[str, str, str | None, float]:
        key, value = item
        try:
            ack = client.put(key, value)
            return key, value, None if ack.get("key") == key else f"bad acknowledgement {ack}", time.time()
        except PetKVError as exc:
            return key, value, str(exc), time.time()

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(items), desc=desc, unit="key", disable=progress is False) as bar:
        for key, value, error, when in pool.map(one, items):
            owner = client.owner(key)
            ledger.events.append((when, key, owner, error is None))
            if error is None:
                ledger.acked[key] = value
                ledger.owners[key] = owner
                ledger.failed.pop(key, None)
            else:
                ledger.failed[key] = error
            bar.update(1)
    ledger.seconds += time.monotonic() - began
    return ledger


class SlicedKV:
    """One petkv key space over ordinal slices of a set in several clusters (what federation makes).

    ``members`` are (cluster, slice) pairs, the slices made with
    :meth:`PetSet.slice` from one description: each key goes to the cluster whose
    slice holds its owner. A member that is down fails only the writes it owns.
    """

    def __init__(self, members: Iterable[tuple[Any, PetSet]], *, timeout: float = 10.0) -> None:
        self.members = [PetKV(target, ps, timeout=timeout) for target, ps in members]
        if not self.members:
            raise KitError("SlicedKV needs at least one (cluster, slice) pair")
        first = self.members[0].ps
        for m in self.members[1:]:
            if (m.ps.name, m.ps.shard_count, m.ps.first_shard_ordinal) != \
                    (first.name, first.shard_count, first.first_shard_ordinal):
                raise KitError(f"slices of different key spaces: {m.ps.name} {m.ps.shard_count} shards from "
                               f"{m.ps.first_shard_ordinal} vs {first.name} {first.shard_count} from "
                               f"{first.first_shard_ordinal}; make them with PetSet.slice() from one description")
        taken: dict[int, str] = {}
        for i, m in enumerate(self.members):
            for o in m.ps.ordinals:
                if o in taken:
                    raise KitError(f"ordinal {o} is in two slices (members {taken[o]} and {i})")
                taken[o] = str(i)
        self.ps = first

    def member(self, key: str) -> PetKV:
        ordinal = owner_ordinal(key, self.ps.shard_count, self.ps.first_shard_ordinal)
        for m in self.members:
            if m.ps.holds(ordinal):
                return m
        raise PetKVError(self.ps.pet(ordinal), f"key {key}", 0, "no member cluster runs this pet")

    def owner(self, key: str) -> str:
        return self.ps.owner(key)

    def shard_of(self, key: str) -> str:
        return self.owner(key)

    def put(self, key: str, value: str) -> dict[str, Any]:
        return self.member(key).put(key, value)

    def get(self, key: str) -> str | None:
        return self.member(key).get(key)

    def delete(self, key: str) -> bool:
        return self.member(key).delete(key)

    def write(self, n: int = 1000, *, prefix: str = "key", start: int = 0, workers: int = 8,
              ledger: Ledger | None = None, progress: bool | str = False) -> Ledger:
        """As :meth:`PetKV.write`, over every slice."""
        return _write_many(self, f"{self.ps.name}: writes", n, prefix, start, workers, ledger, progress)

    def check(self, ledger: Ledger) -> DataReport:
        """:meth:`PetKV.check` per member on the keys it owns, merged."""
        report = DataReport(acked=len(ledger.acked))
        for m in self.members:
            part = Ledger({k: v for k, v in ledger.acked.items() if self.member(k) is m})
            sub = m.check(part)
            report.held.update(sub.held)
            report.expected_checksums.update(sub.expected_checksums)
            for what in ("lost", "wrong", "misplaced", "unreachable"):
                getattr(report, what).extend(getattr(sub, what))
        return report


def kv(target: Any, ps: PetSet, **kw: Any) -> PetKV:
    """A petkv client for ``ps`` on a cluster."""
    return PetKV(target, ps, **kw)


def _message(data: bytes) -> str:
    try:
        obj = json.loads(data)
        return str(obj.get("error") or obj.get("message") or obj)
    except ValueError:
        return data.decode("utf-8", "replace").strip()[:300]


# -- markers through exec (any image with a shell) -----------------------------------------
def exec_in(target: Any, ps: PetSet, pet: str, argv: list[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """Run a command in a pet's container through the API (pods/exec); returns (exit code, stdout, stderr)."""
    from kubernetes.stream import stream

    core = client.CoreV1Api(api_client(target))
    resp = stream(core.connect_get_namespaced_pod_exec, pet, ps.namespace, container=ps.container, command=argv,
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    try:
        resp.run_forever(timeout=timeout)
        out, err = resp.read_stdout() or "", resp.read_stderr() or ""
        code = resp.returncode
    finally:
        resp.close()
    return (code if code is not None else -1), out, err


def write_markers(target: Any, ps: PetSet, pets: Iterable[str] | None = None) -> dict[str, str]:
    """Write a fresh marker file into each pet's volume (``<mount>/kubekit-marker``); returns pet -> marker."""
    names = list(pets) if pets is not None else [p.name for p in pets_now(target, ps).values()]
    out = {}
    path = f"{ps.mount_path.rstrip('/')}/{MARKER_FILE}"
    for pet in names:
        marker = f"{pet}-{secrets.token_hex(4)}"
        code, _, err = exec_in(target, ps, pet, ["sh", "-c", f"echo {shlex.quote(marker)} > {shlex.quote(path)}"])
        if code != 0:
            raise PetKVError(pet, f"write {path}", code, err.strip())
        out[pet] = marker
    return out


def read_markers(target: Any, ps: PetSet, pets: Iterable[str]) -> dict[str, str | None]:
    """Each pet's marker (None when the file is missing or the pet cannot be reached)."""
    path = f"{ps.mount_path.rstrip('/')}/{MARKER_FILE}"
    out: dict[str, str | None] = {}
    for pet in pets:
        try:
            code, text, _ = exec_in(target, ps, pet, ["cat", path])
        except (ApiException, OSError, ValueError):
            code, text = -1, ""
        out[pet] = text.strip() if code == 0 else None
    return out
