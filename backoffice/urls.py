from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from . import views
from .api import api
from .login_throttle import LoginView


def public(patterns):
    """Mark key-authenticated views as exempt from the login redirect; they check their own key."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            public(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback.login_required = False
    return patterns


api_patterns, api_app, api_namespace = api.urls

urlpatterns = [
    path("", views.root, name="root"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((public(api_patterns), api_app), namespace=api_namespace)),
    path("w/<slug:workspace>/", views.home, name="home"),
    path("w/<slug:workspace>/", include("traces.urls")),
    path("w/<slug:workspace>/", include("metrics.urls")),
    path("w/<slug:workspace>/settings/", include("backoffice.views_settings.urls")),
]
