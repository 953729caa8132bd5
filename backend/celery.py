import os

from celery import Celery, signals
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("backend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _metrics_in_worker(**_):
    """Task outcomes are counted in every process that runs tasks (backend/metrics.py). A worker serves them on
    CELERY_METRICS_PORT (bound to CELERY_METRICS_ADDRESS, 127.0.0.1 unless set) when that is set; with
    PROMETHEUS_MULTIPROC_DIR shared with the app server on its host, that server's /metrics carries them too."""
    from backend import metrics  # noqa: PLC0415 - it loads DRF, which reads the settings: not while `backend` loads

    metrics.connect_celery_signals()
    port = os.environ.get("CELERY_METRICS_PORT")
    if port:
        registry = None
        if metrics.multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        kwargs = {"registry": registry} if registry is not None else {}
        start_http_server(int(port), addr=os.environ.get("CELERY_METRICS_ADDRESS", "127.0.0.1"), **kwargs)


@signals.worker_process_shutdown.connect
def _metrics_process_gone(pid=None, **_):
    from backend import metrics  # noqa: PLC0415 - as above

    if metrics.multiprocess_dir():
        multiprocess.mark_process_dead(pid or os.getpid())
