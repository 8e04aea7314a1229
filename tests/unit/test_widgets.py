"""kubekit.widgets: the cluster map as a picture and as HTML, and when the live view is chosen."""

from __future__ import annotations

import pytest

from kubekit import widgets
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
