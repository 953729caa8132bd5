"""gunicorn settings for an app server instance (docs/configuration.md, "More than one app server").

Each worker is a process with its own metrics; with PROMETHEUS_MULTIPROC_DIR set they write them to files there and
/metrics adds them up, whichever worker answers the scrape. The folder is emptied when the server starts (values of
a previous run would be added in), and a worker's live gauges are dropped when it exits.
Workers, threads and the bind address come from the command line or GUNICORN_CMD_ARGS.
"""

import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
