"""Lessons for live training: prepare the world for a lesson, check its exercises, clean up after it.

    from kubekit import lessons

    lesson = lessons.prepare("02", "sandbox", namespace="pets")   # repairs what an earlier run broke
    lessons.check("02.scale-to-5", lesson.kc)                      # right / missing / hint, on the live cluster
    lessons.cleanup(lesson)                                        # a table of what it removed

``prepare`` works in any order and after a trainee broke something (deleted
pets, cordoned nodes, an isolated member, a half-made federation).
The answers to the exercises live in :mod:`kubekit.lessons.solutions`: the
notebooks' collapsed answer cells are their bodies, and ``make test`` runs them.
"""

from .catalogue import LESSONS, Lesson, syllabus
from .exercises import EXERCISES, Exercise, check
from .prepare import Prepared, Report, cleanup, prepare
from .solutions import SOLUTIONS, answer_source, solve
from .verdict import Verdict

__all__ = ["EXERCISES", "Exercise", "LESSONS", "Lesson", "Prepared", "Report", "SOLUTIONS", "Verdict",
           "answer_source", "check", "cleanup", "prepare", "solve", "syllabus"]
