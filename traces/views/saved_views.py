"""Saved views: named sets of Runs list filters and columns, private or shared with the workspace.

A view is the Runs list's query string, so opening one is following a link, and it shows exactly what
the list showed when it was saved. Any member saves views; only the owner edits a private one, the
owner or an admin a shared one. Someone else's private view is not there for anyone else (404).
"""

from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice.access import can, workspace_view
from backoffice.models import Role
from traces.models import SavedView

from .common import render_region

# Parameters that locate a page or a panel, not what the list shows: never part of a view.
NOT_SAVED = ("after", "before", "full")


class SavedViewForm(forms.ModelForm):
    class Meta:
        model = SavedView
        fields = ["name", "shared"]
        labels = {"shared": "Shared with the workspace"}


class SavedViewCreateForm(SavedViewForm):
    class Meta(SavedViewForm.Meta):
        fields = ["name", "shared", "query"]
        widgets = {"query": forms.HiddenInput}

    def clean_query(self):
        query = QueryDict(self.cleaned_data["query"], mutable=True)
        for name in NOT_SAVED:
            query.pop(name, None)
        if len(query.urlencode()) > 4000:
            raise forms.ValidationError("Too many filters to save.")
        return query.urlencode()


def visible_views(request):
    """The views of the workspace the member sees: their own and the shared ones, by name."""
    views = SavedView.objects.filter(workspace=request.workspace)
    return views.filter(Q(owner=request.user) | Q(shared=True)).order_by("name", "id")


def may_edit(request, view):
    return view.owner_id == request.user.pk or (view.shared and can(request, Role.ADMIN))


def get_editable_view(request, view_id):
    """A view the member sees (404 otherwise) and may edit (403 otherwise). Hits the database."""
    view = get_object_or_404(visible_views(request), pk=view_id)
    if not may_edit(request, view):
        raise PermissionDenied("Only its owner, or an admin for a shared view, edits this view.")
    return view


def view_url(request, view):
    runs = reverse("traces:run_list", args=[request.workspace.slug])
    return f"{runs}?{view.query}" if view.query else runs


def views_page(request, create_form=None, status=200):
    views = list(visible_views(request).select_related("owner"))
    for view in views:
        view.url = view_url(request, view)
        view.editable = may_edit(request, view)
        view.form = SavedViewForm(instance=view, prefix=f"view-{view.pk}")
    context = {"views": views, "create_form": create_form}
    response = render_region(request, "traces/saved_views.html", context, {"saved-views-menu": "menu"})
    response.status_code = status
    return response


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def saved_view_list(request):
    """The member's views and the shared ones; the nav's menu loads its `menu` part."""
    return views_page(request)


@require_POST
@workspace_view()
def saved_view_create(request):
    form = SavedViewCreateForm(request.POST)
    if not form.is_valid():
        return views_page(request, form)
    view = form.save(commit=False)
    view.workspace, view.owner = request.workspace, request.user
    view.save()
    return redirect(view_url(request, view))


@require_POST
@workspace_view()
def saved_view_update(request, view_id):
    """Rename a view, or share it or make it private again."""
    view = get_editable_view(request, view_id)
    form = SavedViewForm(request.POST, instance=view, prefix=f"view-{view.pk}")
    if not form.is_valid():
        return views_page(request)
    view = form.save(commit=False)
    view.updated_at = timezone.now()
    view.save(update_fields=["name", "shared", "updated_at"])
    return redirect("traces:saved_view_list", request.workspace.slug)


@require_POST
@workspace_view()
def saved_view_delete(request, view_id):
    get_editable_view(request, view_id).delete()
    return redirect("traces:saved_view_list", request.workspace.slug)


def save_form_for(request):
    """The Runs page's "save this view" form, holding the page's query without its page cursors."""
    query = request.GET.copy()
    for name in NOT_SAVED:
        query.pop(name, None)
    return SavedViewCreateForm(initial={"query": urlencode(list(query.lists()), doseq=True)})
