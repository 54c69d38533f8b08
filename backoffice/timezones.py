"""Times show in the viewer's time zone: the one chosen in their profile, else the one their browser
reports (static/js/prefs.js keeps it in a cookie), UTC until it has. Hover titles always give UTC (the
`utc` filter).

The profile's choice is copied into the session at log-in and when the profile is saved, so pages
read it with the session that log-in checks load anyway: no query more per page. Another browser
already logged in picks a change up at its next log-in.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.signals import user_logged_in
from django.utils import timezone

from .models import Profile

COOKIE = "tz"
SESSION_KEY = "profile_time_zone"


def zone_named(name):
    """The zone of an IANA name, or None for anything else (the cookie is the client's to write)."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def remember_profile_zone(session, name):
    """Keep the profile's zone (empty: the browser's) where every page of this session reads it."""
    session[SESSION_KEY] = name


def on_log_in(sender, request, user, **kwargs):
    name = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    remember_profile_zone(request.session, name or "")


user_logged_in.connect(on_log_in, dispatch_uid="backoffice.timezones.on_log_in")


class ViewerTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_named(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Runs after LoginRequiredMiddleware's check: on a page behind log-in the user and the session
        # are loaded already. Public pages (log-in, the API) keep the browser's zone.
        if getattr(view_func, "login_required", True) and request.user.is_authenticated:
            zone = zone_named(request.session.get(SESSION_KEY))
            if zone is not None:
                timezone.activate(zone)
