from django.urls import path

from . import two_factor

urlpatterns = [
    path("two-factor/", two_factor.two_factor, name="two-factor"),
    path("two-factor/recovery-codes", two_factor.recovery_codes, name="two-factor-recovery-codes"),
]
