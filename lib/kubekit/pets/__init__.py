"""Pets: StatefulSets described, deployed, inspected, changed and verified, the same on any cluster.

A :class:`PetSet` is a small description (name, replicas, workload, storage,
policies) rendered by :meth:`PetSet.manifests` into what ``kubectl apply`` would
take: a ConfigMap with the petkv script, a headless Service, a
PodDisruptionBudget and the StatefulSet (plus, when the cluster lacks it, a gp3
StorageClass for the EBS CSI driver). Everything else is a verb on a cluster
(a :class:`kubekit.cluster.Cluster` or an official ``ApiClient``)::

    from kubekit import pets

    ps = pets.PetSet("web", namespace="pets", replicas=3)
    pets.deploy(kc, ps)                 # create or update; wait for the pets, Ready in order (progress bar)
    print(pets.identity(kc, ps))        # pet, node, zone, IP, DNS name, claim, volume, keys, checksum ...
    ledger = pets.kv(kc, ps).write(1000)   # petkv through the API server's pod proxy
    pets.delete_pet(kc, ps, 1)          # web-1 comes back: same name, DNS name and claim; new uid and IP
    ps, _ = pets.scale(kc, ps, 5)       # web-3, web-4 in order; back to 3 removes web-4, then web-3
    ps, _ = pets.update(kc, ps, version="v2", partition=2)   # a canary: only web-2 moves
    pets.verify(kc, ps, ledger=ledger)  # identity and data invariants; raises CheckFailed
    pets.teardown(kc, ps)               # the set, its Service, PDB, ConfigMap and (by default) claims

Only the official ``kubernetes`` client is used (kubekit never imports kubesim),
so every call behaves the same in the sandbox and on EKS. Data checks go
through petkv (:func:`kv`, a :class:`Ledger` of acknowledged writes) or, for any
other image, through exec (:func:`write_markers`, :func:`read_markers`).

The petkv key space is fixed when a set is first described: ``shards``
defaults to ``replicas`` and :func:`scale` keeps it, so pets added by scaling
are spares that own no keys (petkv does not reshard). ``ordinals_start`` is the
StatefulSet's ``spec.ordinals.start`` (a federation slice); petkv's shard 0
belongs to ``shard_start`` (default: ``ordinals_start``, i.e. each slice is its
own key space; :meth:`PetSet.slice` makes slices that share one key space, and
:class:`SlicedKV` routes each key to the cluster running its owner). See
:mod:`kubekit.workloads.petkv`.

Modules: ``_spec`` (the description and manifests), ``_live`` (apply, reading
pets, claims and identity), ``_ops`` (changes and waits), ``_verify``
(invariants), ``_data`` (petkv client, ledger, markers).
"""

from ._data import DataReport, Ledger, PetKV, PetKVError, SlicedKV, exec_in, kv, read_markers, write_markers
from ._live import (IdentityTable, PetIdentity, PetState, api_client, apply, claims, ensure_namespace,
                    ensure_storage_class, identity, pets_now, phase_of, warnings)
from ._ops import (Deletion, Pinning, PodOrder, Replacement, Rollout, cordon, delete_claims, delete_pet, delete_set, deploy,
                   pinned_by_volume, scale, teardown, update, wait_ready)
from ._spec import PETKV, PetSet, petkv_script, script_hash, storage_class_manifest
from ._verify import Check, Verification, verify

__all__ = [
    "Check",
    "DataReport",
    "Deletion",
    "IdentityTable",
    "Ledger",
    "PETKV",
    "PetIdentity",
    "PetKV",
    "PetKVError",
    "PetSet",
    "PetState",
    "Pinning",
    "PodOrder",
    "Replacement",
    "Rollout",
    "SlicedKV",
    "Verification",
    "api_client",
    "apply",
    "claims",
    "cordon",
    "delete_claims",
    "delete_pet",
    "delete_set",
    "deploy",
    "ensure_namespace",
    "ensure_storage_class",
    "exec_in",
    "identity",
    "kv",
    "petkv_script",
    "pets_now",
    "phase_of",
    "pinned_by_volume",
    "read_markers",
    "scale",
    "script_hash",
    "storage_class_manifest",
    "teardown",
    "update",
    "verify",
    "wait_ready",
    "warnings",
    "write_markers",
]
