from rest_framework.routers import SimpleRouter

from .views import viewsets_by_url

router = SimpleRouter(trailing_slash=False)
for prefix, viewset, basename in viewsets_by_url():
    router.register(prefix, viewset, basename=basename)

urlpatterns = router.urls
