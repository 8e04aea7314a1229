"""kubekit.widgets: the cluster map as a picture and as HTML, when the live view is chosen, and the drill
panel's pure parts (which pet, node or zone a button breaks; the timeline it shows; its static picture)."""

from __future__ import annotations

import pytest

from kubekit import widgets
from kubekit.errors import InvalidParameter
from kubekit.timeline import Timeline
from kubekit.views import NodeBox

PIC = widgets.Picture(
    "pets/web",
    (NodeBox("n-a1", "us-east-1a", True), NodeBox("n-a2", "us-east-1a", True), NodeBox("n-b1", "us-east-1b", False)),
    (widgets.Chip("web-0", "n-a1", "Ready"), widgets.Chip("web-1", "n-b1", "Terminating"),
     widgets.Chip("web-2", "n-a1", "NotReady"), widgets.Chip("web-3", "", "Pending")),
)


def test_picture_groups_pets_by_node_and_zone() -> None:
    assert PIC.zones == ["us-east-1a", "us-east-1b"]
    assert [c.name for c in PIC.on("n-a1")] == ["web-0", "web-2"]
    assert [c.name for c in PIC.unscheduled] == ["web-3"]


def test_static_figure_has_a_column_per_zone() -> None:
    fig = widgets.figure(PIC)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"us-east-1a", "us-east-1b", "n-a1", "web-0  Ready", "web-1  Terminating"} <= texts
    assert any(t.startswith("not scheduled: web-3") for t in texts)
    assert round(fig.get_size_inches()[0], 1) == 5.6  # 2.6 per zone


def test_html_colours_pets_by_phase() -> None:
    html = widgets.to_html(PIC)
    assert html.count("us-east-1") == 2 and "web-2 <small>NotReady</small>" in html
    assert widgets.COLOURS["Ready"] in html and "not scheduled: web-3" in html


@pytest.mark.parametrize("env, expected", [({}, False), ({"JPY_SESSION_NAME": "02.ipynb"}, True),
                                           ({"JPY_SESSION_NAME": "02.ipynb", "KUBEKIT_LIVE": "0"}, False),
                                           ({"KUBEKIT_LIVE": "1"}, True)])
def test_live_only_in_a_jupyter_kernel_unless_forced(env: dict[str, str], expected: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("JPY_SESSION_NAME", "KUBEKIT_LIVE"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert widgets.live_available() is expected


# -- the drill panel's pure parts ------------------------------------------------------------------

NODES = (widgets.NodeInfo("n-a1", "us-east-1a", True, "i-a1"), widgets.NodeInfo("n-a2", "us-east-1a", True, "i-a2"),
         widgets.NodeInfo("n-b1", "us-east-1b", True, "i-b1"), widgets.NodeInfo("n-x", "us-east-1b", True, ""))
CHIPS = (widgets.Chip("web-10", "n-a1", "Ready"), widgets.Chip("web-2", "n-b1", "Ready"),
         widgets.Chip("web-1", "n-a2", "Pending"))


@pytest.mark.parametrize("provider_id, expected", [
    ("aws:///us-east-1a/i-0abc123", ("us-east-1a", "i-0abc123")),
    ("aws:////i-0abc123", ("", "i-0abc123")),
    ("i-0abc123", ("", "i-0abc123")),
    ("aws:///us-east-1a/fargate-ip-10-0-1-2", None),   # a Fargate node: no instance to stop
    ("kind://docker/kind/kind-worker", None),
    ("", None),
])
def test_provider_ids_map_to_instances_as_cloud_provider_aws_does(provider_id: str, expected: object) -> None:
    assert widgets.parse_provider_id(provider_id) == expected


def test_the_pet_to_kill_is_the_lowest_ready_ordinal_or_the_one_asked_for() -> None:
    assert widgets.pick_pet(CHIPS).name == "web-2"          # 2 < 10 numerically; web-1 is not Ready
    assert widgets.pick_pet(CHIPS, 1).name == "web-1"
    with pytest.raises(InvalidParameter, match="no such pet"):
        widgets.pick_pet(CHIPS, 7)
    with pytest.raises(InvalidParameter, match="no Ready pet"):
        widgets.pick_pet([widgets.Chip("web-0", "n-a1", "Terminating")])


def test_the_node_to_stop_hosts_a_ready_pet_and_has_an_instance() -> None:
    assert widgets.pick_node(NODES, CHIPS).name == "n-b1"   # web-2's node
    assert widgets.pick_node(NODES, []).name == "n-a1"      # no pets: the first Ready node with an instance
    assert widgets.pick_node(NODES, CHIPS, "n-a2").instance == "i-a2"
    with pytest.raises(InvalidParameter, match="no EC2 providerID"):
        widgets.pick_node(NODES, CHIPS, "n-x")
    with pytest.raises(InvalidParameter, match="not a node"):
        widgets.pick_node(NODES, CHIPS, "n-zz")


def test_losing_a_zone_stops_every_node_of_it_that_has_an_instance() -> None:
    zone, inside = widgets.zone_nodes(NODES, CHIPS)
    assert zone == "us-east-1b" and [n.name for n in inside] == ["n-b1"]
    assert [n.instance for n in widgets.zone_nodes(NODES, CHIPS, "us-east-1a")[1]] == ["i-a1", "i-a2"]
    with pytest.raises(InvalidParameter, match="us-east-1a, us-east-1b"):
        widgets.zone_nodes(NODES, CHIPS, "us-east-1c")


def _timeline() -> Timeline:
    tl = Timeline()
    tl.add("kubelet", "lease-renewals-stopped", object="node/n-a1", time=99.0)      # before any fault: not shown
    tl.mark("kill a pet: delete pod web-0", t0=True, object="pod/ns/web-0", time=100.0)
    tl.add("kubelet", "pod-deleted", "deleted after graceful termination", object="pod/ns/web-0", time=100.4)
    tl.add("statefulset-controller", "pod-created", object="pod/ns/web-0", time=100.5)
    for i in range(5):
        tl.add("kubelet", "Unhealthy", f"Readiness probe failed {i}", object="pod/ns/web-0", time=100.6 + i / 100)
    tl.add("kubelet", "pod-ready", "Ready=True", object="pod/ns/web-0", time=101.26)
    return tl


def test_timeline_rows_start_at_the_fault_and_merge_repeats() -> None:
    tl = _timeline()
    rows = widgets.timeline_rows(tl.entries(), tl.t0)
    assert [(r.t, r.label) for r in rows] == [("+0.0s", "fault"), ("+0.4s", "pod-deleted"), ("+0.5s", "pod-created"),
                                              ("+0.6s", "Unhealthy x5"), ("+1.3s", "pod-ready")]
    assert rows[0].mark and not any(r.mark for r in rows[1:])
    assert rows[3].detail == "Readiness probe failed 0"
    short = widgets.timeline_rows(tl.entries(), tl.t0, limit=3)
    assert [r.what for r in short] == ["fault", "Unhealthy", "pod-ready"]  # the fault, then the newest


def test_no_rows_before_a_mark_and_a_restore_alone_starts_the_list() -> None:
    tl = Timeline()
    tl.add("kubelet", "node-ready", object="node/n-a1", time=5.0)
    assert widgets.timeline_rows(tl.entries(), tl.t0) == []
    tl.mark("restore: EC2 StartInstances i-1", kind="recovery", time=6.0)
    tl.add("kubelet", "node-ready", object="node/n-a1", time=7.0)
    assert [(r.t, r.what) for r in widgets.timeline_rows(tl.entries(), tl.t0)] == [("+0.0s", "recovery"),
                                                                                   ("+1.0s", "node-ready")]


def test_timeline_html_escapes_and_marks_rows() -> None:
    rows = [widgets.Row("+0.0s", "drill", "pod/ns/<web-0>", "fault", "kill & see", mark=True),
            widgets.Row("+0.1s", "kubelet", "volumeattachment/csi-" + "f" * 64, "Unhealthy", "x", count=3)]
    page = widgets.timeline_html(rows, "kill a pet")
    assert page.count('class="kubekit-timeline-row"') == 2 and "kubekit-drill-status" in page
    assert "pod/ns/&lt;web-0&gt;" in page and "kill &amp; see" in page and "Unhealthy x3" in page
    assert "f" * 64 + "</td>" not in page and "\u2026" in page          # long names shortened, full in the title
    assert "nothing yet" in widgets.timeline_html([])


def test_the_static_panel_picture_holds_the_map_and_the_timeline() -> None:
    tl = _timeline()
    fig = widgets.panel_figure(PIC, widgets.timeline_rows(tl.entries(), tl.t0), "kill a pet: delete pod web-0")
    top, bottom = fig.axes
    assert {"us-east-1a", "web-0  Ready"} <= {t.get_text() for t in top.texts}
    lines = [t.get_text() for t in bottom.texts]
    assert lines[:2] == ["kill a pet: delete pod web-0", "timeline"]
    assert any("pod-deleted" in line and "+0.4s" in line for line in lines)
    assert any("Unhealthy x5" in line for line in lines)
    empty = widgets.panel_figure(PIC, [])
    assert "timeline: (nothing yet)" in {t.get_text() for t in empty.axes[1].texts}
    assert (fig.get_size_inches() == empty.get_size_inches()).all()   # room for a full timeline: stable size
    few = widgets.panel_figure(PIC, widgets.timeline_rows(tl.entries(), tl.t0), slots=2)
    assert [t.get_text().split()[0] for t in few.axes[1].texts[2:]] == ["+0.0s", "+1.3s"]  # the fault, the newest


def test_buttons_name_the_drills_of_the_catalogue() -> None:
    assert [a.label for a in widgets.FAULTS] == ["kill a pet", "stop a node", "lose a zone"]
    assert widgets.drill_info("node-stop").startswith("D5 ")
    assert widgets.drill_info("no-such-drill") == ""
