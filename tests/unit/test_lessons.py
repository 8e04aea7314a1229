"""kubekit.lessons without a cluster: verdict rendering, reports, the syllabus, answer cells from solutions."""

from __future__ import annotations

import ast

import pytest

from kubekit import lessons
from kubekit.errors import InvalidParameter


def test_verdict_not_done_shows_missing_and_hint() -> None:
    v = lessons.Verdict("02.scale-to-5", "scale the pets to 5", ("set exists",), ("wants 3 pets, not 5",), "pets.scale")
    assert not v.ok and not bool(v)
    text = repr(v)
    assert text.splitlines()[0] == "02.scale-to-5: not done yet: scale the pets to 5"
    assert "  missing  wants 3 pets, not 5" in text and "  hint     pets.scale" in text
    html = v._repr_html_()
    assert "not done yet" in html and "Hint:" in html and "wants 3 pets, not 5" in html


def test_verdict_right_hides_the_hint_and_escapes_html() -> None:
    v = lessons.Verdict("x.y", "t", ("<b>5</b> pets",), (), "secret hint")
    assert v.ok and "hint" not in repr(v)
    assert "&lt;b&gt;5&lt;/b&gt;" in v._repr_html_() and "secret hint" not in v._repr_html_()


def test_report_is_a_small_table() -> None:
    r = lessons.Report("lesson 02 cleaned up", empty="nothing to remove")
    assert str(r) == "lesson 02 cleaned up: nothing to remove"
    r.add("removed", "StatefulSet pets/web", "sandbox")
    assert str(r).splitlines() == ["lesson 02 cleaned up:", "ACTION   OBJECT                WHERE",
                                   "removed  StatefulSet pets/web  sandbox"]


def test_syllabus_lists_the_lessons_in_order() -> None:
    lines = lessons.syllabus().splitlines()
    assert lines[0].split()[:2] == ["#", "NOTEBOOK"]
    assert [line.split()[0] for line in lines[1:7]] == ["00", "01", "02", "03", "04", "05"]


def test_unknown_lesson_and_exercise_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="no such lesson"):
        lessons.prepare("99")
    with pytest.raises(InvalidParameter, match="no such exercise"):
        lessons.check("02.nope", "sandbox")


@pytest.mark.parametrize("exercise", sorted(lessons.SOLUTIONS))
def test_answer_source_is_plain_code_without_return(exercise: str) -> None:
    src = lessons.answer_source(exercise)
    tree = ast.parse(src)
    assert tree.body and not any(isinstance(node, ast.Return) for node in tree.body)
    assert not src.startswith((" ", "def "))
    assert exercise in lessons.EXERCISES and lessons.EXERCISES[exercise].hint
