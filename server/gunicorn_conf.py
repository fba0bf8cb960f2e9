"""gunicorn settings for `rubric serve`: threads per worker, and grading started per worker."""

import os

worker_class = "gthread"
threads = int(os.environ.get("RUBRIC_WEB_THREADS", "4"))
graceful_timeout = 20  # let gradings in progress finish on restart


def post_worker_init(worker) -> None:
    """Start this worker's grading pool and sweep now, not on the first submission.

    After a restart, submissions left queued are picked up even if nobody submits.
    """
    from server.submissions.queue import get_queue

    get_queue(worker.wsgi)  # worker.wsgi is the Flask app made by create_app()
