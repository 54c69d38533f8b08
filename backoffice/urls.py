from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from ninja.operation import PathView

from metrics import otlp_api as otlp_metrics_api
from traces import otlp_api, otlp_logs_api
from traces.mcp import transport as mcp_transport
from traces.scores import langfuse

from . import invitations, profile, views
from .api import api, no_such_route
from .login_throttle import LoginView


def needs_key(callback):
    """Does this ninja view authenticate? Its operations live on the PathView its closure holds."""
    for cell in getattr(callback, "__closure__", None) or ():
        if isinstance(cell.cell_contents, PathView):
            return any(operation.auth_callbacks for operation in cell.cell_contents.operations)
    return False


def public(patterns):
    """Mark the API's views as exempt from the login redirect: they check their own key.

    `api_key_required` records which ones do, the access policy the URL walk test checks.
    """
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            public(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback.login_required = False
            pattern.callback.api_key_required = needs_key(pattern.callback)
    return patterns


api_patterns, api_app, api_namespace = api.urls

urlpatterns = [
    path("", views.root, name="root"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((public(api_patterns), api_app), namespace=api_namespace)),
    re_path(r"^api/v1/(?P<rest>.*)$", no_such_route, name="api_no_such_route"),
    path("w/<slug:workspace>/", views.home, name="home"),
    path("w/<slug:workspace>/profile/", profile.profile_edit, name="profile"),
    path("w/<slug:workspace>/", include("traces.urls")),
    path("w/<slug:workspace>/", include("metrics.urls")),
    # OTLP/HTTP: the standard path, and the one the Langfuse SDK posts to.
    path("v1/traces", otlp_api.traces, name="otlp_traces"),
    path("api/public/otel/v1/traces", otlp_api.traces, name="otlp_traces_langfuse"),
    path("v1/metrics", otlp_metrics_api.metrics, name="otlp_metrics"),
    path("v1/logs", otlp_logs_api.logs, name="otlp_logs"),
    path("api/public/otel/v1/logs", otlp_logs_api.logs, name="otlp_logs_langfuse"),
    # The Langfuse SDK's score calls and its auth_check().
    path("api/public/scores", langfuse.scores, name="langfuse_scores"),
    path("api/public/ingestion", langfuse.ingestion, name="langfuse_ingestion"),
    path("api/public/projects", langfuse.projects, name="langfuse_projects"),
    # The MCP server (streamable HTTP) for agents and coding assistants.
    path("mcp", mcp_transport.mcp, name="mcp"),
    path("w/<slug:workspace>/settings/exporters/", include("traces.export.urls")),
    path("w/<slug:workspace>/settings/", include("backoffice.governance.urls")),
    path("", include("metrics.public_urls")),
]
