"""The project's urlconf plus one page that forgot its access policy, to show the walk catches it."""

from django.http import HttpResponse
from django.urls import include, path


def forgotten(request, workspace):
    return HttpResponse("anyone logged in sees every workspace here")


urlpatterns = [
    path("", include("backoffice.urls")),
    path("w/<slug:workspace>/forgotten/", forgotten, name="forgotten"),
]
