import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their modules and caches) lives as long as the worker: move it out of
# the cyclic collector's generations so that a full collection no longer walks it. Requests that build many
# objects (a first pull's pages, a 500-mutation push) set off full collections; in process they took about a
# quarter of a first pull's time.
gc.freeze()
