"""Class statistics for instructors: what the class scores, passes, and gets wrong.

Knows nothing of HTTP. Every figure counts each student's counted work: the
submission or quiz attempt the gradebook counts (server/scoring/gradebook.py).
"""
