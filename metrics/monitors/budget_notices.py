"""The budgets' notifications: the worker's periodic `notify_budgets` job tells a budget's channels when
a key's spend crosses one of its fractions, once per budget, key, period and fraction.

A BudgetNotice row is that once: it is written in the same transaction as the deliveries it queues
(metrics.monitors.delivery.notify), so a crossing is told exactly once whatever the job's restarts,
and its unique key makes a second worker running the same cycle skip it. Each fraction crossed gets its
own notice: spend that jumps past 80 % and 100 % between two runs of the job tells both.

The webhook body:

    {"kind": "budget", "budget": {"id", "scope", "key", "period", "unit"}, "key" (the agent,
     workflow or user it concerns; "" for the workspace), "fraction", "limit", "spent", "period_start",
     "workspace" (its slug), "links": {"budgets": <Settings › Budgets>, "runs": <the period's runs>}}
"""

import hashlib
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from backoffice.api_rendering import plain_decimal
from metrics.models import Budget, BudgetNotice, BudgetScope, BudgetUnit

from . import budgets
from .delivery import Message, notify

# The Runs list's filter of each scope's key.
RUN_FILTERS = {BudgetScope.AGENT: "agent", BudgetScope.WORKFLOW: "workflow", BudgetScope.USER: "user"}


def _absolute(path):
    return f"{settings.BACKOFFICE_URL}{path}"


def amount(value, unit):
    return f"${value:,.2f}" if unit == BudgetUnit.USD else f"{value:,.0f} tokens"


def runs_link(budget, key, start):
    """The Runs list of the period so far, filtered to the key."""
    query = {"since": start.isoformat()}
    if budget.scope in RUN_FILTERS:
        query[RUN_FILTERS[budget.scope]] = key
    return _absolute(f"{reverse('traces:run_list', args=[budget.workspace.slug])}?{urlencode(query)}")


def message(budget, key, spent, fraction, start):
    what = budgets.describe(budget, key)
    links = {
        "budgets": _absolute(reverse("governance:budgets", args=[budget.workspace.slug])),
        "runs": runs_link(budget, key, start),
    }
    lines = [
        f"Spent {amount(spent, budget.unit)} of {amount(budget.limit, budget.unit)} "
        f"this {budget.period} (since {start:%Y-%m-%d} UTC).",
        f"Budgets: {links['budgets']}",
        f"Runs: {links['runs']}",
    ]
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Message(
        subject=f"{what}: {fraction:.0%} of the budget spent",
        text="\n".join(lines),
        key=f"budget:{budget.pk}:{digest}:{start.isoformat()}:{fraction}",
        body={
            "kind": "budget",
            "budget": {name: getattr(budget, name) for name in ("id", "scope", "key", "period", "unit")},
            "key": key,
            "fraction": fraction,
            "limit": plain_decimal(budget.limit),
            "spent": plain_decimal(spent),
            "period_start": start.isoformat(),
            "workspace": budget.workspace.slug,
            "links": links,
        },
    )


def notify_budgets(day=None):
    """The periodic job: tell the channels of every budget about the fractions crossed this period and
    not told yet. Returns how many notices it wrote. A fixed number of queries, then a few per notice."""
    day = day or budgets.today()
    watched = list(
        Budget.objects.filter(channels__isnull=False)
        .distinct()
        .select_related("workspace")
        .prefetch_related("channels")
        .order_by("pk")
    )
    fractions = [fraction for budget in watched for fraction in budget.notify_at]
    if not fractions:
        return 0
    crossed = budgets.spenders(watched, day, least=min(fractions))
    starts = {budget.pk: budgets.period_start(budget.period, day) for budget in watched}
    told = set(
        BudgetNotice.objects.filter(budget__in=watched, period_start__in=set(starts.values())).values_list(
            "budget_id", "key", "period_start", "fraction"
        )
    )
    written = 0
    for budget, key, spent in crossed:
        start = starts[budget.pk]
        for fraction in budget.notify_at:
            if spent < budget.limit * Decimal(str(fraction)) or (budget.pk, key, start, fraction) in told:
                continue
            try:
                with transaction.atomic():
                    BudgetNotice.objects.create(budget=budget, key=key, period_start=start, fraction=fraction)
                    for channel in budget.channels.all():
                        notify(channel, message(budget, key, spent, fraction, start))
            except IntegrityError:
                continue  # another worker told it first
            written += 1
    return written
