from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from traces import otlp_api

from . import views
from .api import api


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
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((public(api_patterns), api_app), namespace=api_namespace)),
    path("w/<slug:workspace>/", views.home, name="home"),
    path("w/<slug:workspace>/", include("traces.urls")),
    path("w/<slug:workspace>/", include("metrics.urls")),
    # OTLP/HTTP: the standard path, and the one the Langfuse SDK posts to.
    path("v1/traces", otlp_api.traces, name="otlp_traces"),
    path("api/public/otel/v1/traces", otlp_api.traces, name="otlp_traces_langfuse"),
]
