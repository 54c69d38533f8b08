"""A few QA reviews on finished runs. Reviews are not events, so these rows are written directly."""

import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model

from backoffice.models import Membership, Role
from traces.models import ChatMessage, ChatRole, Review, ReviewActivity, Run

REVIEWER = {"username": "dana", "first_name": "Dana", "last_name": "Whitfield"}
# Fixed cycles, so that every seed shows bad ratings with corrections and each status of the queue.
RATINGS = ["bad", "bad", "neutral", "bad", "good"]
STATUSES = ["open", "resolved", "in_review", "resolved", "open", "dismissed"]
PRIORITIES = {"bad": ["high", "urgent", "medium"], "neutral": ["low"], "good": ["low"]}
NEUTRAL = "Correct, but longer than it needs to be; the key fact is in the last sentence."
ACTIONS = [
    ("prompt_updated", "Added the rule to the system prompt; checked on 20 similar runs."),
    ("added_to_training_set", "Corrected output exported for the next fine-tuning round."),
    ("kb_article_fixed", "The help-centre article was out of date and has been corrected."),
]


def plan(story):
    """Pick the reviewed runs and what QA said, as plain dicts. Uses the story's random stream."""
    rng = story.rng
    count = min(len(story.candidates), 10 * story.scale)
    chosen = rng.sample(story.candidates, count)
    ratings, statuses, actions = itertools.cycle(RATINGS), itertools.cycle(STATUSES), itertools.cycle(ACTIONS)
    priorities = {rating: itertools.cycle(values) for rating, values in PRIORITIES.items()}
    latest = story.anchor - timedelta(minutes=1)
    plans = []
    for candidate in chosen:
        rating, status, critique = next(ratings), next(statuses), candidate.critique
        created = min(candidate.ended_at + timedelta(minutes=rng.randint(10, 20 * 60)), latest)
        created = max(created, candidate.ended_at)
        review = {
            "run_id": candidate.run_id,
            "rating": rating,
            "comment": {"bad": critique.bad, "good": critique.good, "neutral": NEUTRAL}[rating],
            "priority": next(priorities[rating]),
            "tags": list(critique.tags),
            "status": status,
            "corrected_output": critique.corrected if rating == "bad" else "",
            "created_at": created,
            "updated_at": created,
        }
        if status == "resolved":
            action, notes = next(actions)
            resolved = max(min(created + timedelta(minutes=rng.randint(30, 30 * 60)), latest), created)
            review.update(
                action_taken=action, resolution_notes=notes, resolved_at=resolved, updated_at=resolved
            )
        elif status != "open":
            review["updated_at"] = max(min(created + timedelta(minutes=rng.randint(5, 240)), latest), created)
        plans.append(review)
    return plans


def reviewer(workspace):
    """The demo's QA reviewer: a member who cannot log in until an admin sets a password."""
    user, created = get_user_model().objects.get_or_create(
        username=REVIEWER["username"], defaults={k: v for k, v in REVIEWER.items() if k != "username"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": Role.REVIEWER})
    return user


def create(workspace, plans):
    """File the planned reviews, with their activity log. Returns how many were created."""
    if not plans:
        return 0
    user = reviewer(workspace)
    # Seeding the same hour again replays the same events (stored once) and finds its reviews filed.
    runs = {
        run.run_id: run
        for run in Run.objects.filter(
            workspace=workspace, run_id__in=[p["run_id"] for p in plans], review__isnull=True
        ).only("pk", "run_id")
    }
    answers = {
        m.run_id: m
        for m in ChatMessage.objects.filter(run__in=runs.values(), role=ChatRole.ASSISTANT).order_by(
            "sequence"
        )
    }
    reviews = []
    for plan_ in plans:
        run = runs.get(plan_["run_id"])
        if run is None:
            continue
        fields = {k: v for k, v in plan_.items() if k != "run_id"}
        if fields["status"] != "open":
            fields["assignee"] = user
        if fields["status"] == "resolved":
            fields["resolved_by"] = user.username
        reviews.append(
            Review(
                workspace=workspace,
                run=run,
                reviewed_by=user.username,
                target_message=answers.get(run.pk) if fields["rating"] == "bad" else None,
                **fields,
            )
        )
    Review.objects.bulk_create(reviews)
    activity = []
    for review in Review.objects.filter(run__in=[r.run_id for r in reviews]):
        activity.append(
            ReviewActivity(
                review=review,
                actor=review.reviewed_by,
                action="created",
                changes={"rating": [None, review.rating], "status": [None, "open"]},
                created_at=review.created_at,
            )
        )
        if review.status != "open":
            activity.append(
                ReviewActivity(
                    review=review,
                    actor=review.reviewed_by,
                    action="updated",
                    changes={"status": ["open", review.status]},
                    created_at=review.updated_at,
                )
            )
    ReviewActivity.objects.bulk_create(activity)
    return len(reviews)
