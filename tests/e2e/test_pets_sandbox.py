"""kubekit.pets against the sandbox: the lesson's workflow, with petkv running as real processes.

Each test uses its own namespace of the session's sandbox (``sandbox_env``), so
tests do not see one another's pets. What is asserted is what notebook 02
teaches: ordered creation, stable identity and data across a pet's deletion,
reverse-order scale-down with retained claims, a partitioned canary, and the
retention policies (``Delete`` really deletes the data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from kubekit import cluster, pets
from kubekit.errors import CheckFailed


@pytest.fixture
def kc(sandbox_env) -> cluster.Cluster:  # type: ignore[no-untyped-def]
    return cluster.connect("sandbox", sandbox_env.kubeconfig)


@pytest.fixture
def cleanup(kc: cluster.Cluster) -> Iterator[list[pets.PetSet]]:
    made: list[pets.PetSet] = []
    yield made
    for ps in made:
        pets.teardown(kc, ps)


def test_identity_and_data_survive_a_pet_deletion(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    ps = pets.PetSet("web", namespace="pets-e2e-identity", replicas=3)
    cleanup.append(ps)
    rollout = pets.deploy(kc, ps, progress=False)
    assert rollout.created == rollout.ready == ["web-0", "web-1", "web-2"]  # OrderedReady: one at a time
    assert rollout.applied["StatefulSet/web"] == "created"
    assert pets.deploy(kc, ps, progress=False).applied["StatefulSet/web"] == "unchanged"

    ids = pets.identity(kc, ps)
    assert [r.dns for r in ids] == [f"web-{i}.web.pets-e2e-identity.svc.cluster.local" for i in range(3)]
    assert len({r.zone for r in ids}) == 3  # spread over the three zones
    assert all(r.zone == r.volume_zone and r.pv.startswith("pvc-") for r in ids)

    kv = pets.kv(kc, ps)
    ledger = kv.write(300)
    assert len(ledger.acked) == 300 and not ledger.failed
    assert sum(r.keys or 0 for r in pets.identity(kc, ps)) == 300
    key = "key-0000"
    stranger = next(p for p in ("web-0", "web-1", "web-2") if p != ps.owner(key))
    status, answer = kv.put_on(stranger, key, "x")
    assert status == 421 and answer["owner"] == ps.owner(key)
    assert kv.get(key) == "value-0"

    replaced = pets.delete_pet(kc, ps, 1, progress=False)
    for same in ("pet", "dns", "pvc", "pv", "volume_zone", "keys", "checksum"):
        assert replaced.same(same), same
    assert not replaced.same("uid") and not replaced.same("ip")
    assert (replaced.before.starts, replaced.after.starts) == (1, 2)
    assert pets.verify(kc, ps, ledger=ledger).ok

    pinned = pets.pinned_by_volume(kc, ps, 2)
    assert "didn't match PersistentVolume's node affinity" in pinned.message
    assert pets.identity(kc, ps)["web-2"].zone == pinned.zone
    pets.verify(kc, ps, ledger=ledger)

    ledger.acked["key-0001"] = "not what was written"
    with pytest.raises(CheckFailed, match="1 wrong"):
        pets.verify(kc, ps, ledger=ledger)


def test_scale_in_order_and_a_partitioned_canary(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    ps = pets.PetSet("web", namespace="pets-e2e-scale", replicas=3)
    cleanup.append(ps)
    pets.deploy(kc, ps, progress=False)
    ledger = pets.kv(kc, ps).write(200)

    bigger, grown = pets.scale(kc, ps, 5, progress=False)
    assert grown.created == grown.ready == ["web-3", "web-4"]
    assert bigger.shard_count == 3  # the key space does not change: the new pets are spares
    spare = pets.kv(kc, bigger).identity("web-3")
    assert (spare["shard"], spare["keys"]) == (None, 0)

    ps, shrunk = pets.scale(kc, bigger, 3, progress=False)
    assert shrunk.removed == ["web-4", "web-3"]  # the highest ordinal first
    assert list(pets.claims(kc, ps)) == [f"data-web-{i}" for i in range(5)]  # whenScaled=Retain keeps them

    ps, canary = pets.update(kc, ps, version="v2", partition=2, progress=False)
    assert canary.updated == ["web-2"]
    assert [r.version for r in pets.identity(kc, ps)] == ["v1", "v1", "v2"]
    ps, rest = pets.update(kc, ps, partition=0, progress=False)
    assert rest.updated == ["web-1", "web-0"]
    assert [r.version for r in pets.identity(kc, ps)] == ["v2", "v2", "v2"]
    pets.verify(kc, ps, ledger=ledger)


def test_retention_policies(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    ns = "pets-e2e-retention"
    doomed = pets.PetSet("tmp", namespace=ns, replicas=2, when_deleted="Delete", when_scaled="Delete")
    kept = pets.PetSet("keep", namespace=ns, replicas=2)
    cleanup += [doomed, kept]
    for ps in (doomed, kept):
        pets.deploy(kc, ps, progress=False)
    doomed_ledger = pets.kv(kc, doomed).write(50)
    kept_ledger = pets.kv(kc, kept).write(50)

    doomed, _ = pets.scale(kc, doomed, 1, progress=False)
    assert list(pets.claims(kc, doomed)) == ["data-tmp-0"]  # whenScaled=Delete: tmp-1's claim went with it
    gone = pets.delete_set(kc, doomed)
    assert (gone.pets_left, gone.claims_left, gone.volumes_left) == ([], [], [])
    kept_gone = pets.delete_set(kc, kept)
    assert kept_gone.claims_left == ["data-keep-0", "data-keep-1"]

    # the same sets again: Retain brings the data back, Delete started from empty volumes
    doomed = dataclasses.replace(doomed, replicas=2)
    for ps in (doomed, kept):
        pets.deploy(kc, ps, progress=False)
    assert [(r.keys, r.starts) for r in pets.identity(kc, doomed)] == [(0, 1), (0, 1)]
    assert [r.starts for r in pets.identity(kc, kept)] == [2, 2]
    pets.verify(kc, kept, ledger=kept_ledger)
    with pytest.raises(CheckFailed, match="lost"):
        pets.verify(kc, doomed, ledger=doomed_ledger)


def test_any_image_keeps_its_marker_files(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    ps = pets.PetSet("db", namespace="pets-e2e-image", replicas=3, workload="nginx:1.27",
                     mount_path="/usr/share/nginx/html")
    cleanup.append(ps)
    assert pets.deploy(kc, ps, progress=False).created == ["db-0", "db-1", "db-2"]
    markers = pets.write_markers(kc, ps)
    assert sorted(markers) == ["db-0", "db-1", "db-2"]
    pets.delete_pet(kc, ps, 0, progress=False)
    assert pets.read_markers(kc, ps, ["db-0", "db-1", "db-2"]) == markers
    assert pets.verify(kc, ps, markers=markers).ok
    with pytest.raises(Exception, match="not petkv"):
        pets.kv(kc, ps)
    # these containers stop at once, so two pets can vanish between two polls: the order comes from a watch
    ps, shrunk = pets.scale(kc, ps, 1, progress=False)
    assert shrunk.removed == ["db-2", "db-1"]
    assert pets.verify(kc, ps, markers={"db-0": markers["db-0"]}).ok


def test_an_ordinal_slice_owns_its_own_key_space(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    """What federation does per member cluster: ordinals 3..4 of ``web``, petkv shards by ordinal - start."""
    ps = pets.PetSet("web", namespace="pets-e2e-slice", replicas=2, ordinals_start=3)
    cleanup.append(ps)
    assert pets.deploy(kc, ps, progress=False).created == ["web-3", "web-4"]
    kv = pets.kv(kc, ps)
    ledger = kv.write(100)
    assert set(ledger.owners.values()) == {"web-3", "web-4"}
    assert [(i["ordinal"], i["shard"]) for i in (kv.identity("web-3"), kv.identity("web-4"))] == [(3, 0), (4, 1)]
    assert [r.pvc for r in pets.identity(kc, ps)] == ["data-web-3", "data-web-4"]
    pets.verify(kc, ps, ledger=ledger)


def test_slices_in_two_places_share_one_key_space(kc: cluster.Cluster, cleanup: list[pets.PetSet]) -> None:
    """Federation's layout: web-0..2 in one member, web-3..4 in another (here: two namespaces), one key space."""
    whole = pets.PetSet("web", replicas=5)
    east = dataclasses.replace(whole.slice(0, 3), namespace="pets-e2e-east")
    west = dataclasses.replace(whole.slice(3, 2), namespace="pets-e2e-west")
    cleanup += [east, west]
    for ps in (east, west):
        pets.deploy(kc, ps, progress=False)
    both = pets.SlicedKV([(kc, east), (kc, west)])
    ledger = both.write(200)
    assert not ledger.failed and set(ledger.owners.values()) == {f"web-{i}" for i in range(5)}
    assert pets.kv(kc, west).identity("web-4")["shard"] == 4  # shard = ordinal - 0, of 5
    assert both.check(ledger).ok
    key = next(k for k, owner in ledger.owners.items() if owner == "web-4")
    with pytest.raises(pets.PetKVError, match="not in this slice"):
        pets.kv(kc, east).put(key, "x")
    assert both.get(key) == ledger.acked[key]
