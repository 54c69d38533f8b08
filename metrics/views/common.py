"""Fetching dashboards and cards within the current workspace, and answering after a change."""

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from ..forms import RangeForm
from ..models import Dashboard, DashboardCard


def get_dashboard(request, slug):
    dashboard = Dashboard.objects.filter(workspace=request.workspace, slug=slug).first()
    if dashboard is None:
        raise Http404("No such dashboard")
    return dashboard


def get_card(request, slug, card_id):
    card = (
        DashboardCard.objects.select_related("dashboard")
        .filter(dashboard__workspace=request.workspace, dashboard__slug=slug, pk=card_id)
        .first()
    )
    if card is None:
        raise Http404("No such card")
    return card


def dashboard_url(request, dashboard, query=""):
    url = reverse("metrics:dashboard_detail", args=[request.workspace.slug, dashboard.slug])
    return f"{url}?{query}" if query else url


def range_form(request):
    """The time range of the query string, or a 400 response naming the bad field."""
    form = RangeForm(request.GET)
    if form.is_valid():
        return form, None
    problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
    return form, HttpResponseBadRequest(f"Bad query parameter: {problems}", content_type="text/plain")


def done(request, url):
    """After a change: back to the page, as a full redirect for htmx too (the layout changed)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
