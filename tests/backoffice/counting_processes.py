"""Work for the processes of test_shared_counters: each is a fresh interpreter with Django set up on
the database the test names, as a gunicorn worker would be."""

import os

import django


def start(database_url):
    os.environ["DATABASE_URL"] = database_url
    os.environ["CACHE_URL"] = "db://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("SECRET_KEY", "tests-only-secret")
    django.setup()


def prepare(database_url, migrate, username):
    start(database_url)
    # Django is set up only now, so its modules are imported only now.
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    if migrate:
        call_command("migrate", verbosity=0)
    get_user_model().objects.create_user(username, password="right password")


def clean_up(database_url, prefix, username):
    start(database_url)
    from django.contrib.auth import get_user_model

    from backoffice.models import RateCounter

    RateCounter.objects.filter(name__contains=prefix).delete()
    get_user_model().objects.filter(username=username).delete()


def hits_allowed(scope, attempts, limit):
    """How many of `attempts` requests the shared rate limit let through in this process."""
    from backoffice import ratelimit

    return sum(1 for _ in range(attempts) if not ratelimit.hit(scope, "key", limit, 3600))


def passwords_checked(username, attempts):
    """How many wrong-password log-ins this process got checked before the throttle refused them."""
    from django.test import RequestFactory

    from backoffice.login_throttle import ThrottledAuthenticationForm

    checked = 0
    for _ in range(attempts):
        request = RequestFactory().post("/login/", REMOTE_ADDR="10.9.9.9")
        form = ThrottledAuthenticationForm(request, data={"username": username, "password": "wrong"})
        form.is_valid()
        checked += not form.is_throttled()
    return checked
