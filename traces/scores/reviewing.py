"""Scores on the Review tab: the run's scores by every reviewer and source, and the signed-in
reviewer's own, given through ScoreForm. Each reviewer keeps one score per name on the run and on
each reply: scoring again replaces it."""

import hashlib

from traces.models import ScoreSource

from .configs import ScoreError
from .forms import ScoreForm, active_configs
from .records import ScoreIn, save_scores

# What the table never shows of the step or reply a score is about.
PAYLOADS = {"task": ("input", "output", "error", "metadata"), "message": ("content", "metadata")}


def reviewer_score_id(user, run, target, name):
    """The reviewer's score of `name` on the run (or reply `target`) has this id, so it is replaced."""
    digest = hashlib.sha256(f"{run.pk}\0{target}\0{name}".encode()).hexdigest()[:40]
    return f"reviewer-{user.pk}-{digest}"


def run_scores(run):
    """The run's scores with the reply or step they score, by name then time. One query."""
    scores = (
        run.scores.select_related("message", "task")
        .defer(*[f"{related}__{name}" for related in ("task", "message") for name in PAYLOADS[related]])
        .order_by("name", "created_at", "id")
    )
    scores = list(scores)
    for score in scores:
        score.run = run
    return scores


def score_pane(request, run, replies, reply_label, *, form=None, target=""):
    """The Review tab's scores: the table and, for a reviewer, the form. Two queries."""
    configs = active_configs(request.workspace)
    scores = run_scores(run)
    by_name = {config.name: config.pk for config in configs}
    for score in scores:
        score.config_pk = by_name.get(score.name)
        score.is_mine = score.user_id == request.user.pk and score.source == ScoreSource.REVIEWER
    if form is None:
        mine = [score for score in scores if score.is_mine]
        initial = ScoreForm.initial_from(mine, target if target in {r.event_id for r in replies} else "")
        form = ScoreForm(initial=initial, configs=configs, replies=replies, reply_label=reply_label)
    return {"scores": scores, "score_form": form, "score_configs": configs}


def save_reviewer_scores(request, run, form):
    """Save what the valid form holds as the reviewer's scores; errors go on the form's fields.
    True when every score was stored."""
    target = form.cleaned_data["target"] or ""
    given = form.given()
    items = [
        ScoreIn(
            run_id=run.run_id,
            message_id=target or None,
            name=config.name,
            value=value,
            data_type=config.data_type,
            comment=form.cleaned_data["comment"],
            id=reviewer_score_id(request.user, run, target, config.name),
        )
        for _, config, value in given
    ]
    results = save_scores(
        request.workspace,
        items,
        source=ScoreSource.REVIEWER,
        author=request.user.get_username(),
        user=request.user,
    )
    for (name, _, _), result in zip(given, results, strict=True):
        if isinstance(result, ScoreError):
            form.add_error(name if result.field == "value" else None, result.message)
    return not form.errors
