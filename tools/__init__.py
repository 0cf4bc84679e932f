"""Instructor and maintainer tools of the course (nbgrader helpers, student edition).

Run them from the repository root, e.g. ``python -m tools.regenerate``; see
docs/instructor-guide.md for the whole release → grading workflow.
"""
