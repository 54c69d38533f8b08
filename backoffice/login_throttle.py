"""Log-in throttling against password guessing, on the same cache counters as the ingest rate limit.

Failures are counted per (username, address) and per address. A small throttle rather than a library
such as django-axes: axes replaces the authentication backend with one that requires the request,
which breaks `Client.login()` in every test suite, and keeps its own tables; this needs neither.
"""

import math

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from . import ratelimit
from .proxy import client_address


def _counters(request, username):
    address = client_address(request) if request is not None else ""
    user = (username or "").strip().lower()
    return [
        ("login-user", f"{user}|{address}", settings.LOGIN_FAILURES_PER_USER),
        ("login-address", address, settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def wait_seconds(request, username):
    """Seconds until this username may try again from this address; 0 when it may try now."""
    window = settings.LOGIN_FAILURE_WINDOW
    for scope, ident, limit in _counters(request, username):
        if ratelimit.peek(scope, ident, window) >= limit:
            return ratelimit.seconds_left(window)
    return 0


@receiver(user_login_failed, dispatch_uid="backoffice.login_throttle.count_failure")
def count_failure(sender, credentials, request=None, **kwargs):
    for scope, ident, limit in _counters(request, credentials.get("username")):
        ratelimit.hit(scope, ident, limit, settings.LOGIN_FAILURE_WINDOW)


class ThrottleMixin:
    """Refuses to check a password while its username or address is throttled."""

    def clean(self):
        wait = wait_seconds(self.request, self.data.get("username"))
        if wait:
            minutes = math.ceil(wait / 60)
            unit = "minute" if minutes == 1 else "minutes"
            raise forms.ValidationError(
                f"Too many failed log-in attempts. Try again in {minutes} {unit}.",
                code="throttled",
            )
        return super().clean()

    def is_throttled(self):
        return any(error.code == "throttled" for error in self.errors.as_data().get("__all__", []))


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """The log-in page: answers 429 while throttled."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.is_throttled():
            response.status_code = 429
            response["Retry-After"] = str(wait_seconds(self.request, form.data.get("username")) or 60)
        return response
