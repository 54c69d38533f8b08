"""Routing rules that fill the review queue.

A rule's filter IS a Runs-list filter: the same query string (`status=failed&score=helpfulness<3`),
parsed by traces.run_filters.RunFilterForm, so a rule matches exactly the runs its Runs-list link shows.
Each matching run without a review is sampled, deterministically per (rule, run), and a sampled run gets
a review opened with the rule's priority, tags, queue and assignee (round-robin over the queue's
members when the rule names no assignee).

Rules apply to runs as they finish (the ingest fold calls `route_finished` once per batch) and, on
request, to the finished runs of a past time range (`backfill`). Either way a run counts once per rule
(ReviewRuleMatch) and gets at most one review, so a backfill run again changes nothing.
"""

import hashlib
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.http import QueryDict
from django.utils import timezone

from backoffice.audit import diff
from traces.keyset import chunks
from traces.models import (
    Agent,
    Priority,
    Review,
    ReviewActivity,
    ReviewRule,
    ReviewRuleMatch,
    RunStatus,
)
from traces.run_filters import RunFilterForm, matching

from .queues import assign_round_robin
from .tickets import ReviewError, clean_choice, clean_tags

# The time range of a rule is the stream of runs (or a backfill's range), and the order is the rule's
# own: a filter may not hold these parameters of the Runs page.
NOT_RULE_FILTERS = ("after", "before", "since", "until", "period", "sort", "col")
RULE_FILTERS = [name for name in RunFilterForm.base_fields if name not in NOT_RULE_FILTERS]
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED)
BACKFILL_CHUNK = 500
MAX_NAME_CHARS = 100
# Sampling reads the first 8 bytes of a hash as a fraction of this.
HASH_SPAN = 2**64


def filter_params(text):
    """The query string of a filter, also when given as a Runs-list URL or with its leading "?"."""
    text = (text or "").strip()
    if "?" in text:
        text = urlsplit(text).query or text.split("?", 1)[1]
    return QueryDict(text)


def named_agents(texts):
    """The agent ids these filters name."""
    return {agent for text in texts for agent in filter_params(text).getlist("agent") if agent}


def agents_of(workspace, texts):
    """The workspace's agents the filters name: no query when none does."""
    names = named_agents(texts)
    return list(Agent.objects.filter(workspace=workspace, agent_id__in=names)) if names else []


def filter_form(text, agents):
    """The RunFilterForm of a rule's filter, validated. Raises ReviewError naming `filter`."""
    params = filter_params(text)
    unknown = sorted(set(params) - set(RULE_FILTERS))
    if unknown:
        raise ReviewError(
            "filter", f"“{unknown[0]}” is not a filter of a rule; use {', '.join(RULE_FILTERS)}"
        )
    form = RunFilterForm(params, agents)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        raise ReviewError("filter", f"{name}: {' '.join(errors)}")
    return form


def clean_filter(workspace, text):
    """The filter as it is stored: the query string, checked (ReviewError naming `filter`)."""
    params = filter_params(text)
    filter_form(text, agents_of(workspace, [text]))
    return params.urlencode(safe="<>=!,:")


def clean_sample_rate(value):
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ReviewError("sample_rate", "must be a number from 0 to 1") from None
    if not 0 <= rate <= 1:
        raise ReviewError("sample_rate", "must be from 0 to 1")
    return rate


def clean_name(workspace, value, rule=None):
    name = " ".join((value or "").split())
    if not name:
        raise ReviewError("name", "give the rule a name")
    if len(name) > MAX_NAME_CHARS:
        raise ReviewError("name", f"at most {MAX_NAME_CHARS} characters")
    others = ReviewRule.objects.filter(workspace=workspace, name=name)
    if rule is not None:
        others = others.exclude(pk=rule.pk)
    if others.exists():
        raise ReviewError("name", f"a rule named “{name}” exists")
    return name


def clean_rule(workspace, fields, rule=None):
    """The given fields of a rule, cleaned; `queue` and `assignee` come already found in the
    workspace. Raises ReviewError naming the first bad field."""
    cleaners = {
        "name": lambda value: clean_name(workspace, value, rule),
        "enabled": bool,
        "filter": lambda value: clean_filter(workspace, value),
        "sample_rate": clean_sample_rate,
        "priority": lambda value: clean_choice("priority", value, Priority),
        "tags": clean_tags,
        "queue": lambda value: value,
        "assignee": lambda value: value,
    }
    return {name: cleaners[name](value) for name, value in fields.items()}


def snapshot(rule):
    """A rule's settings as the audit log records them."""
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "filter": rule.filter,
        "sample_rate": rule.sample_rate,
        "priority": rule.priority,
        "tags": list(rule.tags),
        "queue": rule.queue.name if rule.queue else None,
        "assignee": rule.assignee.get_username() if rule.assignee else None,
    }


def save_rule(workspace, values, rule=None):
    """Create a rule, or change one, from cleaned values; returns (rule, {field: [before, after]})."""
    before = snapshot(rule) if rule is not None else {}
    rule = rule or ReviewRule(workspace=workspace)
    for name, value in values.items():
        setattr(rule, name, value)
    rule.updated_at = timezone.now()
    rule.save()
    return rule, diff(before, snapshot(rule))


def sampled(rule, run_id, rate=None):
    """Whether the rule samples this run: the same answer every time, so a backfill run again picks
    the same runs, and a rate raised later keeps the runs a lower rate picked."""
    rate = rule.sample_rate if rate is None else rate
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{rule.pk}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / HASH_SPAN < rate


def actor_of(rule):
    return f"rule {rule.name}"


def match(workspace, rules, run_pks, agents):
    """{rule pk: [(run pk, run id)]}: the finished runs among `run_pks` without a review that each
    rule's filter matches. One query per rule."""
    matches = {}
    for rule in rules:
        try:
            form = filter_form(rule.filter, agents)
        except ReviewError:
            continue  # an agent the filter names is gone: the rule matches nothing
        runs = matching(workspace, form, agents).filter(
            pk__in=run_pks, status__in=FINISHED, review__isnull=True
        )
        matches[rule.pk] = list(runs.values_list("pk", "run_id"))
    return matches


@transaction.atomic
def settle(workspace, rules, matches):
    """Count the matched runs, sample them and open the reviews; returns {rule pk: (matched, sampled)}
    counted now. Rules are tried in order: a run one rule opened a review for is not free for the next.
    A fixed handful of queries, however many runs and rules match."""
    counted = {rule.pk: (0, 0) for rule in rules}
    found = {pk for pairs in matches.values() for pk, _ in pairs}
    if not found:
        return counted
    seen = set(
        ReviewRuleMatch.objects.filter(rule__in=list(matches), run__in=found).values_list("rule", "run")
    )
    taken, new_matches, opened = set(), [], []
    for rule in rules:
        matched = picked = 0
        for pk, run_id in matches.get(rule.pk, ()):
            if (rule.pk, pk) in seen or pk in taken:
                continue
            pick = sampled(rule, run_id)
            new_matches.append(ReviewRuleMatch(rule=rule, run_id=pk, sampled=pick))
            matched += 1
            if pick:
                taken.add(pk)
                picked += 1
                opened.append((rule, pk))
        counted[rule.pk] = (matched, picked)
    ReviewRuleMatch.objects.bulk_create(new_matches, ignore_conflicts=True)
    open_reviews(workspace, opened)
    for rule in rules:
        matched, picked = counted[rule.pk]
        if matched:
            ReviewRule.objects.filter(pk=rule.pk).update(
                matched_count=F("matched_count") + matched,
                sampled_count=F("sampled_count") + picked,
                updated_at=timezone.now(),
            )
    return counted


def open_reviews(workspace, opened):
    """Reviews for (rule, run pk) pairs, with their "created" activity. A run a person reviewed in the
    meantime keeps that review (one per run)."""
    if not opened:
        return
    assignees = assign_round_robin(workspace, [rule for rule, _ in opened])
    now = timezone.now()
    reviews = [
        Review(
            workspace=workspace,
            run_id=pk,
            rule=rule,
            rating="",  # a rule has no verdict: unrated until a person rates it
            comment=f"Opened by the review rule “{rule.name}”.",
            priority=rule.priority,
            tags=list(rule.tags),
            queue_id=rule.queue_id,
            assignee=assignee,
            reviewed_by=actor_of(rule),
            created_at=now,
            updated_at=now,
        )
        for (rule, pk), assignee in zip(opened, assignees, strict=True)
    ]
    Review.objects.bulk_create(reviews, ignore_conflicts=True)
    # Read back for their keys: a conflict (a person's review) leaves no row, and no key is returned.
    by_run = {review.run_id: review for review in reviews}
    stored = Review.objects.filter(run__in=list(by_run), rule__isnull=False, created_at=now)
    activity = []
    for pk, run_pk in stored.values_list("pk", "run"):
        review = by_run[run_pk]
        given = {"rule": [None, review.rule.name], "priority": [None, review.priority]}
        if review.tags:
            given["tags"] = [None, review.tags]
        if review.queue_id:
            given["queue"] = [None, review.rule.queue.name]
        if review.assignee:
            given["assignee"] = [None, review.assignee.get_username()]
        activity.append(
            ReviewActivity(review_id=pk, actor=actor_of(review.rule), action="created", changes=given)
        )
    ReviewActivity.objects.bulk_create(activity)


def enabled_rules(workspace):
    """The workspace's enabled rules with their queues, in the order they are tried. One query."""
    rules = ReviewRule.objects.filter(workspace=workspace, enabled=True)
    return list(rules.select_related("queue", "assignee"))


def route_finished(workspace, run_pks):
    """The ingest hook: runs of a batch that just completed or failed go through the enabled rules.
    One query when the workspace has no rule."""
    if not run_pks:
        return {}
    rules = enabled_rules(workspace)
    if not rules:
        return {}
    agents = agents_of(workspace, [rule.filter for rule in rules])
    return settle(workspace, rules, match(workspace, rules, list(run_pks), agents))


def backfill(rule, since, until):
    """Apply the rule to the finished runs started in [since, until), BACKFILL_CHUNK at a time in key
    order; returns (matched, sampled) counted now. Runs already counted or reviewed are skipped, so
    running it again counts and opens nothing new."""
    workspace = rule.workspace
    agents = agents_of(workspace, [rule.filter])
    form = filter_form(rule.filter, agents)
    runs = matching(workspace, form, agents).filter(
        started_at__gte=since, started_at__lt=until, status__in=FINISHED, review__isnull=True
    )
    matched = picked = 0
    for rows in chunks(runs, "run_id", size=BACKFILL_CHUNK):
        counted = settle(workspace, [rule], {rule.pk: [(row.pk, row.run_id) for row in rows]})[rule.pk]
        matched, picked = matched + counted[0], picked + counted[1]
    return matched, picked
