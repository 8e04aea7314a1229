"""The world map without a cluster: grouping by region, zone and cluster; picture and HTML agree."""

from __future__ import annotations

from kubekit.worldmap import Node, World, figure, to_html

WORLD = World((
    Node("member-eu-west-1a", "ip-10-64-0-4.eu-west-1.compute.internal", "eu-west-1", "eu-west-1a", "Ready",
         (("pets/kv-4", "Ready"),)),
    Node("sandbox", "ip-10-0-0-4.ec2.internal", "us-east-1", "us-east-1a", "Ready",
         (("pets/web-0", "Ready"), ("pets/web-3", "Pending"))),
    Node("sandbox", "ip-10-0-32-4.ec2.internal", "us-east-1", "us-east-1b", "Cordoned"),
    Node("member-us-east-1a", "ip-10-1-0-4.ec2.internal", "us-east-1", "us-east-1a", "NotReady"),
), unreachable=("member-us-east-1c",))


def test_grouping() -> None:
    assert WORLD.regions == ["eu-west-1", "us-east-1"]
    assert WORLD.zones("us-east-1") == ["us-east-1a", "us-east-1b"]
    assert WORLD.clusters("us-east-1", "us-east-1a") == ["member-us-east-1a", "sandbox"]
    assert WORLD.pets == 3
    assert WORLD.summary() == ("2 region(s), 3 zone(s), 3 cluster(s), 4 nodes, 3 pets; "
                               "not answering: member-us-east-1c")


def test_html_shows_every_level_and_escapes() -> None:
    page = to_html(WORLD, title="<class>")
    for text in ("eu-west-1", "us-east-1b", "member-eu-west-1a", "ip-10-0-32-4", "Cordoned", "web-3", "kv-4"):
        assert text in page
    assert "&lt;class&gt;" in page and "<class>" not in page


def test_figure_has_one_column_per_zone() -> None:
    fig = figure(WORLD)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 3.0)
    texts = {t.get_text() for t in ax.texts}
    assert {"eu-west-1", "us-east-1", "us-east-1a", "sandbox", "web-0", "ip-10-0-32-4 (Cordoned)"} <= texts
    assert "not answering: member-us-east-1c" in ax.get_title()
