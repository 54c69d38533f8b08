"""Named review queues: who works each one, how far along it is, and whose turn is next.

A review belongs to at most one queue (Review.queue). Rules that name a queue and no assignee hand
their reviews out round-robin over the queue's members, reviewers and admins of the workspace in
username order, moving the queue's `rotation` on by the number handed out.
"""

from collections import defaultdict

from django.db.models import Count, F

from traces.models import ReviewQueue, ReviewStatus

from .tickets import WORKING_ROLES

# Resolved and dismissed reviews are both done with.
DONE = (ReviewStatus.RESOLVED, ReviewStatus.DISMISSED)


def queues_in(workspace):
    """The workspace's queues, by name: a queryset (evaluating it is one query)."""
    return ReviewQueue.objects.filter(workspace=workspace)


def queue_members(workspace, queue_ids):
    """{queue pk: [user]} of the members who may still work reviews (a member whose role was lowered to
    viewer is left out), in username order. One query."""
    members = defaultdict(list)
    if not queue_ids:
        return members
    through = ReviewQueue.members.through.objects.filter(
        reviewqueue__in=queue_ids,
        user__is_active=True,
        user__memberships__workspace=workspace,
        user__memberships__role__in=WORKING_ROLES,
    )
    for row in through.select_related("user").order_by("user__username", "user_id"):
        members[row.reviewqueue_id].append(row.user)
    return members


def assign_round_robin(workspace, rules):
    """An assignee (a user or None) for each entry of `rules`, one per review to open: the rule's own
    assignee, else the next member of its queue in turn, else nobody. Call inside a transaction: the
    queues are locked while their rotation moves on. Three queries when a queue takes turns, else none."""
    turns = [rule.queue_id for rule in rules if rule.assignee_id is None and rule.queue_id]
    if not turns:
        return [rule.assignee for rule in rules]
    queues = ReviewQueue.objects.select_for_update().filter(pk__in=set(turns)).order_by("pk")
    rotation = dict(queues.values_list("pk", "rotation"))
    members = queue_members(workspace, list(rotation))
    handed = defaultdict(int)
    assignees = []
    for rule in rules:
        people = members.get(rule.queue_id) if rule.assignee_id is None else None
        if not people:
            assignees.append(rule.assignee)
            continue
        turn = rotation[rule.queue_id] + handed[rule.queue_id]
        assignees.append(people[turn % len(people)])
        handed[rule.queue_id] += 1
    for queue_id, count in handed.items():
        ReviewQueue.objects.filter(pk=queue_id).update(rotation=F("rotation") + count)
    return assignees


def queues_with_progress(workspace):
    """The workspace's queues, each with `open`, `in_review`, `done` and `total` counts of its reviews
    and `members` (users). Three queries, however many queues and reviews."""
    queues = list(ReviewQueue.objects.filter(workspace=workspace).prefetch_related("members"))
    counts = defaultdict(dict)
    rows = (
        ReviewQueue.objects.filter(workspace=workspace, reviews__isnull=False)
        .values_list("pk", "reviews__status")
        .annotate(n=Count("reviews"))
        .order_by()
    )
    for pk, status, n in rows:
        counts[pk][status] = n
    for queue in queues:
        found = counts[queue.pk]
        queue.open = found.get(ReviewStatus.OPEN, 0)
        queue.in_review = found.get(ReviewStatus.IN_REVIEW, 0)
        queue.done = sum(found.get(status, 0) for status in DONE)
        queue.total = queue.open + queue.in_review + queue.done
        queue.done_percent = round(100 * queue.done / queue.total) if queue.total else 0
        queue.in_review_percent = round(100 * queue.in_review / queue.total) if queue.total else 0
    return queues
