"""Review rules: admins list, add, change, switch on and off, delete and backfill the rules that open
reviews for runs (traces.reviews.rules). Every change goes to the audit log."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.models import ReviewRule
from traces.reviews import rules

from .forms import BackfillForm, ReviewRuleForm


def runs(count):
    return "run" if count == 1 else "runs"


def reviews(count):
    return "review" if count == 1 else "reviews"


def rules_in(workspace):
    return ReviewRule.objects.filter(workspace=workspace).select_related("queue", "assignee")


def get_rule(request, rule_id):
    return get_object_or_404(rules_in(request.workspace), pk=rule_id)


def back_to(request, rule=None):
    if rule is None:
        return redirect("governance:review_rules", workspace=request.workspace.slug)
    return redirect("governance:review_rule", workspace=request.workspace.slug, rule_id=rule.pk)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def review_rule_list(request):
    form = ReviewRuleForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        rule, changes = rules.save_rule(request.workspace, form.cleaned_data)
        audit.record(request, "review_rule.created", rule.name, changes)
        messages.success(request, f"Rule “{rule.name}” added: it applies to runs as they finish.")
        return back_to(request, rule)
    context = {"section": "review_rules", "rules": rules_in(request.workspace), "form": form}
    return render(request, "backoffice/governance/review_rules.html", context)


def render_rule(request, rule, form=None, backfill_form=None):
    context = {
        "section": "review_rules",
        "rule": rule,
        "form": form or ReviewRuleForm.of_rule(rule),
        "backfill_form": backfill_form or BackfillForm(initial=BackfillForm.last_week()),
    }
    return render(request, "backoffice/governance/review_rule.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def review_rule_detail(request, rule_id):
    return render_rule(request, get_rule(request, rule_id))


@require_POST
@workspace_view(Role.ADMIN)
def review_rule_update(request, rule_id):
    rule = get_rule(request, rule_id)
    form = ReviewRuleForm(request.POST, workspace=request.workspace, rule=rule)
    if not form.is_valid():
        return render_rule(request, rule, form=form)
    rule, changes = rules.save_rule(request.workspace, form.cleaned_data, rule)
    if changes:
        audit.record(request, "review_rule.changed", rule.name, changes)
    messages.success(request, f"Rule “{rule.name}” saved.")
    return back_to(request, rule)


@require_POST
@workspace_view(Role.ADMIN)
def review_rule_toggle(request, rule_id):
    rule = get_rule(request, rule_id)
    rule, changes = rules.save_rule(request.workspace, {"enabled": not rule.enabled}, rule)
    audit.record(request, "review_rule.changed", rule.name, changes)
    return back_to(request)


@require_POST
@workspace_view(Role.ADMIN)
def review_rule_delete(request, rule_id):
    rule = get_rule(request, rule_id)
    audit.record(request, "review_rule.deleted", rule.name, audit.diff(rules.snapshot(rule), {}))
    rule.delete()
    messages.success(request, f"Rule “{rule.name}” deleted; the reviews it opened stay.")
    return back_to(request)


@require_POST
@workspace_view(Role.ADMIN)
def review_rule_backfill(request, rule_id):
    rule = get_rule(request, rule_id)
    form = BackfillForm(request.POST)
    if not form.is_valid():
        return render_rule(request, rule, backfill_form=form)
    since, until = form.bounds()
    try:
        matched, picked = rules.backfill(rule, since, until)
    except rules.ReviewError as exc:
        form.add_error(None, f"The rule's filter no longer holds: {exc.message}.")
        return render_rule(request, rule, backfill_form=form)
    audit.record(
        request,
        "review_rule.backfilled",
        rule.name,
        {"since": since.isoformat(), "until": until.isoformat(), "matched": matched, "sampled": picked},
    )
    messages.success(
        request,
        f"Backfill done: {matched} {runs(matched)} matched that had not been counted, "
        f"{picked} {reviews(picked)} opened.",
    )
    return back_to(request, rule)
