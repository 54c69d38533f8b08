import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.ingest.policy import Redactor
from traces.models import RedactionRule

from .forms import RedactionRuleForm, RedactionTestForm

SAMPLE = {
    "run_id": "run-42",
    "input": {"question": "My card is 4111 1111 1111 1111, email ada@example.com", "api_key": "sk-live-123"},
    "output": "Thanks Ada, I have noted ada@example.com.",
}


def get_rule(request, rule_id):
    return get_object_or_404(RedactionRule.objects.filter(workspace=request.workspace), pk=rule_id)


def rule_snapshot(rule):
    return {
        "kind": rule.kind,
        "pattern": rule.pattern,
        "replacement": rule.replacement,
        "enabled": rule.enabled,
    }


def try_rules(request, form):
    """What the sample becomes under the workspace's enabled rules: exactly what ingest stores."""
    rules = list(RedactionRule.objects.filter(workspace=request.workspace, enabled=True))
    redactor = Redactor(rules)
    sample, is_json = form.parsed()
    if is_json and isinstance(sample, dict):
        result = redactor.apply_to_body(sample)
    else:
        result = redactor.apply(sample)
    return {
        "result": json.dumps(result, indent=2, ensure_ascii=False) if is_json else result,
        "changed": result != sample,
        "rule_count": len(rules),
    }


def render_redaction(request, *, form=None, test_form=None, outcome=None):
    context = {
        "section": "redaction",
        "rules": RedactionRule.objects.filter(workspace=request.workspace),
        "form": form or RedactionRuleForm(),
        "test_form": test_form or RedactionTestForm(initial={"sample": json.dumps(SAMPLE, indent=2)}),
        "outcome": outcome,
    }
    return render(request, "backoffice/governance/redaction.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def redaction_list(request):
    return render_redaction(request)


@require_POST
@workspace_view(Role.ADMIN)
def redaction_create(request):
    form = RedactionRuleForm(request.POST, instance=RedactionRule(workspace=request.workspace))
    if not form.is_valid():
        return render_redaction(request, form=form)
    rule = form.save()
    audit.record(request, "redaction.created", rule.pattern, audit.diff({}, rule_snapshot(rule)))
    messages.success(request, "Rule added: it applies to every event received from now on.")
    return redirect("governance:redaction", workspace=request.workspace.slug)


@require_POST
@vary_on_headers("HX-Request")
@workspace_view(Role.ADMIN)
def redaction_test(request):
    """Has no side effect; a POST because a sample payload may be long and sensitive (never in a URL)."""
    form = RedactionTestForm(request.POST)
    outcome = try_rules(request, form) if form.is_valid() else None
    if request.htmx:
        return render(
            request, "backoffice/governance/redaction.html#tester", {"test_form": form, "outcome": outcome}
        )
    return render_redaction(request, test_form=form, outcome=outcome)


@require_POST
@workspace_view(Role.ADMIN)
def redaction_toggle(request, rule_id):
    rule = get_rule(request, rule_id)
    rule.enabled = not rule.enabled
    rule.save(update_fields=["enabled"])
    audit.record(request, "redaction.toggled", rule.pattern, {"enabled": [not rule.enabled, rule.enabled]})
    return redirect("governance:redaction", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def redaction_delete(request, rule_id):
    rule = get_rule(request, rule_id)
    rule.delete()
    audit.record(request, "redaction.deleted", rule.pattern, audit.diff(rule_snapshot(rule), {}))
    messages.success(request, "Rule removed.")
    return redirect("governance:redaction", workspace=request.workspace.slug)
