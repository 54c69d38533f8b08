"""Settings › Budgets: each budget with this period's spend against its limit; add, change, delete.
The work is metrics.monitors.budgets'; every change goes to the audit log."""

from decimal import Decimal

from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from metrics.models import Budget
from metrics.monitors import budgets
from metrics.monitors.budget_forms import BudgetForm


def get_budget(request, budget_id):
    return get_object_or_404(Budget.objects.filter(workspace=request.workspace), pk=budget_id)


def saved(request, form, budget=None):
    """The form's budget saved and audited; None (the error on the form) when it exists already."""
    action = "budget.created" if budget is None else "budget.changed"
    try:
        budget, changes = budgets.save_budget(request.workspace, dict(form.cleaned_data), budget)
    except budgets.BudgetError as error:
        form.add_error(error.field, error.message)
        return None
    if changes:
        audit.record(request, action, budgets.describe(budget), changes)
    return budget


def shown(budget):
    """The flags and figures a row of the list shows."""
    budget.what = budgets.describe(budget)
    budget.share = budgets.fraction_spent(budget)
    budget.percent = round(budget.share * 100)
    budget.reached = budget.spent >= budget.limit
    first = min(budget.notify_at, default=None)
    budget.warned = (
        not budget.reached and first is not None and budget.spent >= budget.limit * Decimal(str(first))
    )
    return budget


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def budget_list(request):
    form = BudgetForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid() and saved(request, form):
        messages.success(request, "Budget added: the check and its notifications use it at once.")
        return redirect("governance:budgets", workspace=request.workspace.slug)
    found = budgets.standings(request.workspace)
    prefetch_related_objects(found, "channels")
    context = {"section": "budgets", "budgets": [shown(budget) for budget in found], "form": form}
    return render(request, "backoffice/governance/budgets.html", context)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def budget_detail(request, budget_id):
    budget = get_budget(request, budget_id)
    form = BudgetForm(
        request.POST or None,
        workspace=request.workspace,
        budget=budget,
        initial=BudgetForm.initial_of(budget),
    )
    if request.method == "POST" and form.is_valid() and saved(request, form, budget):
        messages.success(request, f"Budget saved: {budgets.describe(budget)}.")
        return redirect("governance:budgets", workspace=request.workspace.slug)
    context = {"section": "budgets", "budget": budget, "what": budgets.describe(budget), "form": form}
    return render(request, "backoffice/governance/budget.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def budget_delete(request, budget_id):
    budget = get_budget(request, budget_id)
    audit.record(
        request, "budget.deleted", budgets.describe(budget), audit.diff(budgets.snapshot(budget), {})
    )
    budget.delete()
    messages.success(request, f"Budget deleted: {budgets.describe(budget)}.")
    return redirect("governance:budgets", workspace=request.workspace.slug)
