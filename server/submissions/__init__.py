"""Code submissions: stored before we answer, graded in the background, recorded once.

service   store a submission, claim it for grading, record its result
exercises the exact exercise version a submission was made against
runner    claim -> grade -> record, the unit of work of every grader
queue     who runs the runner: an in-process pool, or Celery workers
sweep     re-queue what a dead worker, a lost message or a failed grader left behind
"""
