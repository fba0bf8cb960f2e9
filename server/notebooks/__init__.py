"""nbgrader notebooks as Rubric exercises: import, release, grading in the sandbox.

docs/notebooks.md describes the folder, what is graded how, and the trust model.
"""
