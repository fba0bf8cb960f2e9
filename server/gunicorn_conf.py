"""gunicorn settings for `rubric serve`: threads per worker, and grading started per worker."""

from server.config import web_threads

worker_class = "gthread"
# 4 workers x 2 threads measured best on 2 cores (bench/quiz_bench.py).
threads = web_threads()
graceful_timeout = 20  # let gradings in progress finish on restart
# gunicorn >= 25 opens a control socket at one path per user ($HOME/.gunicorn), so a
# second gunicorn on the host (another instance, a test, a benchmark) takes it over.
# Nothing here uses it; older versions ignore the unknown name.
control_socket_disable = True
# Believe no forwarded scheme here: gunicorn would take X-Forwarded-Proto from any
# client on 127.0.0.1. RUBRIC_TRUSTED_PROXIES (Werkzeug's ProxyFix) alone decides.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}


def post_worker_init(worker) -> None:
    """Start this worker's grading pool and sweep now, not on the first submission.

    After a restart, submissions left queued are picked up even if nobody submits.
    """
    from server.submissions.queue import get_queue

    # A request waiting for a grading (?wait=) holds a thread: keep one for the rest.
    worker.wsgi.config["RUBRIC_WAIT_SLOTS"] = worker.cfg.threads - 1
    get_queue(worker.wsgi)  # worker.wsgi is the Flask app made by create_app()
    if not worker.wsgi.config["RUBRIC_BROKER_URL"]:  # in scale-out the workers send
        from server.lti import passback

        passback.start_sender(worker.wsgi)  # scores left unsent before a restart go now
