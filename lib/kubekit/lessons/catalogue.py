"""What the kit teaches, in which order, and how long each part takes (the table in 00-start-here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..views import table


@dataclass(frozen=True)
class Lesson:
    id: str
    notebook: str
    title: str
    teaches: str
    minutes: int  # in class, exercises included; headless runs take seconds to a minute


LESSONS: tuple[Lesson, ...] = (
    Lesson("00", "00-start-here", "Start here", "the sandbox, kubectl, a map of the world", 10),
    Lesson("01", "01-bootstrap-aws", "Bootstrap Kubernetes on AWS",
           "VPC, subnets per zone, EKS, node groups, cost; kube-up.sh then and now", 35),
    Lesson("02", "02-deploy-pets", "Pets: StatefulSets",
           "stable names, DNS and volumes; ordered start, scale, canary, retention, zones", 50),
    Lesson("03", "03-federate-zones", "Federate zones and clusters",
           "members, weighted division, ordinal slices, drift, losing a member", 50),
    Lesson("04", "04-failure-drills", "Failure drills",
           "kill a pet, lose a node, a zone, a cluster; RTO, RPO, grading", 45),
    Lesson("05", "05-teardown", "Teardown", "destroy by tag and inventory; prove nothing is left", 10),
)


def get(lesson: str) -> Lesson:
    found = [entry for entry in LESSONS if entry.id == lesson or entry.notebook == lesson]
    if not found:
        from ..errors import InvalidParameter

        raise InvalidParameter("lesson", lesson, "no such lesson", f"choose one of {', '.join(e.id for e in LESSONS)}")
    return found[0]


def _title(path: Path) -> str:
    """The first Markdown heading of a notebook, without its '#'."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return path.stem
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def syllabus(root: str | Path | None = None) -> str:
    """Lessons (in order, with minutes) and the runbooks found under ``runbooks/`` as one plain table."""
    base = Path(root) if root else Path(__file__).resolve().parents[3]
    rows = []
    for e in LESSONS:  # the file's real name when it exists (04 is written elsewhere)
        found = sorted((base / "notebooks").glob(f"{e.id}-*.ipynb"))
        name = found[0].name if found else f"{e.notebook}.ipynb"
        rows.append({"#": e.id, "notebook": f"notebooks/{name}", "what you learn": e.teaches, "minutes": e.minutes})
    for path in sorted((base / "runbooks").glob("*.ipynb")):
        rows.append({"#": "rb", "notebook": f"runbooks/{path.name}", "what you learn": _title(path),
                     "minutes": "-"})
    return table(rows)
