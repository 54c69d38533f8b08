"""Review pages: the run's Review tab, the queue, a review's detail, stats, the training export and
the evaluation dataset."""

from urllib.parse import quote

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from backoffice.access import can, workspace_view
from backoffice.models import Role
from traces.models import Agent, ChatRole, Review
from traces.scores.forms import ScoreForm, active_configs
from traces.scores.reviewing import save_reviewer_scores, score_pane
from traces.views.runs import get_run, render_run_tab

from . import tickets as reviews
from .evaluation import evaluation_response
from .export import export_response
from .forms import (
    EvaluationFilterForm,
    ExportFilterForm,
    ReviewEditForm,
    ReviewFilterForm,
    ReviewForm,
    StatsFilterForm,
    reply_label,
)
from .queries import filter_reviews, get_review, page_of, reviews_in
from .queues import queues_in
from .stats import review_figures, score_agreement

# The Review tab's scores pane, swapped on its own after scoring.
SCORE_REGIONS = {"scores": "scores"}
# Form field names of the workflow's fields, where they differ.
FORM_FIELD = {"target_message": "target"}
EXPORT_FILTERS = ("agent", "rating", "tag", "since", "until")


def wants_fragment(request):
    return request.htmx and not request.htmx.history_restore_request


def review_of(run):
    """The run's review with who it is assigned to and the reply it targets, or None. One query."""
    return Review.objects.filter(run=run).select_related("assignee", "target_message").first()


def turns_of(run):
    """The run's chat turns in order. One query."""
    turns = list(run.messages.order_by("sequence", "id"))
    for turn in turns:
        turn.run = run  # the bubbles link to it: no need to fetch it once per turn
    return turns


def replies_in(turns):
    return [turn for turn in turns if turn.role == ChatRole.ASSISTANT]


def originals(run, replies):
    """What a corrected output is set against: each reply's text, and the default when none is picked
    (the last reply, else the run's output)."""
    texts = {reply.event_id: reviews.turn_text(reply.content) for reply in replies}
    default = texts[replies[-1].event_id] if replies else reviews.turn_text(run.output)
    return texts, default


def actor(request):
    return request.user.get_username()


def add_rule_error(form, exc):
    name = FORM_FIELD.get(exc.field, exc.field)
    form.add_error(name if name in form.fields else None, exc.message)


# The Review tab of a run.


def run_review_page(request, run, review, form=None, score_form=None):
    turns = turns_of(run)
    replies = replies_in(turns)
    if review is None and form is None and can(request, Role.REVIEWER):
        picked = request.GET.get("message", "")
        form = ReviewForm(initial={"target": picked}, replies=replies)
    texts, default = originals(run, replies)
    target = review.target_message.event_id if review and review.target_message else None
    if form is not None:
        target = form["target"].value() or None
    context = {
        "review": review,
        "turns": turns,
        "target": target,
        "form": form,
        "originals": texts,
        "original": texts.get(target, default),
        "default_original": default,
        # While the run is live only its header refreshes: a half-written review must stay.
        "live_target": "#run-header",
        **score_pane(
            request, run, replies, reply_label, form=score_form, target=request.GET.get("score", "")
        ),
    }
    return render_run_tab(request, run, "review", "traces/run_review.html", context, regions=SCORE_REGIONS)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_review(request, run_id):
    run = get_run(request, run_id)
    return run_review_page(request, run, review_of(run))


@require_POST
@workspace_view(Role.REVIEWER)
def review_create(request, run_id):
    run = get_run(request, run_id)
    if review_of(run) is not None:
        return redirect("traces:run_review", request.workspace.slug, run.run_id)
    form = ReviewForm(request.POST, replies=replies_in(turns_of(run)))
    if not form.is_valid():
        return run_review_page(request, run, None, form=form)
    try:
        reviews.file_review(run, actor=actor(request), **form.review_fields())
    except reviews.ReviewError as exc:
        add_rule_error(form, exc)
        return run_review_page(request, run, None, form=form)
    except reviews.AlreadyReviewed:
        pass  # filed by someone else meanwhile: the tab shows theirs
    return redirect("traces:run_review", request.workspace.slug, run.run_id)


@require_POST
@vary_on_headers("HX-Request")
@workspace_view(Role.REVIEWER)
def run_score(request, run_id):
    """The reviewer's scores of the run or one of its replies; from the tab's form (htmx), the
    scores pane again; else back to the tab. An invalid form is shown again with its errors."""
    run = get_run(request, run_id)
    replies = replies_in(turns_of(run))
    form = ScoreForm(
        request.POST, configs=active_configs(request.workspace), replies=replies, reply_label=reply_label
    )
    saved = form.is_valid() and save_reviewer_scores(request, run, form)
    if wants_fragment(request):
        target = form.cleaned_data.get("target", "") if saved else ""
        context = {
            "run": run,
            **score_pane(request, run, replies, reply_label, form=None if saved else form, target=target),
        }
        context["scores_saved"] = saved
        return render(request, "traces/run_review.html#scores", context)
    if not saved:
        return run_review_page(request, run, review_of(run), score_form=form)
    url = reverse("traces:run_review", args=[request.workspace.slug, run.run_id])
    target = form.cleaned_data["target"]
    return redirect(f"{url}?score={quote(target)}#scores" if target else f"{url}#scores")


# The queue.


def agents_in(workspace):
    """The agents to filter by. One query."""
    return list(Agent.objects.filter(workspace=workspace).only("agent_id", "name").order_by("name", "id"))


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def review_list(request):
    assignees = list(reviews.assignable_users(request.workspace))
    form = ReviewFilterForm(
        request.GET,
        agents=agents_in(request.workspace),
        assignees=assignees,
        queues=queues_in(request.workspace),
    )
    rows, next_after, status = [], None, 200
    if form.is_valid():
        data = form.cleaned_data
        found = filter_reviews(reviews_in(request.workspace), data)
        rows, next_after = page_of(found, data["sort"], data.get("cursor"))
    else:
        status = 400
    context = {
        "form": form,
        "rows": rows,
        "now": timezone.now(),
        "next_query": form.query(after=next_after) if next_after else None,
        "first_query": form.query(after="") if form.data.get("after") else None,
        "export_query": form.query(**{name: "" for name in form.fields if name not in EXPORT_FILTERS}),
        "evaluation_query": form.query(sort="", after=""),
        "sort": form.cleaned_data.get("sort"),
    }
    template = "traces/review_list.html#results" if wants_fragment(request) else "traces/review_list.html"
    return render(request, template, context, status=status)


# One review.


def review_detail_page(request, review, form=None, status_error=None, status=200):
    turns = turns_of(review.run)
    replies = replies_in(turns)
    if form is None and can(request, Role.REVIEWER):
        form = ReviewEditForm.for_review(
            review,
            replies=replies,
            assignees=reviews.assignable_users(request.workspace),
            queues=queues_in(request.workspace),
        )
    texts, default = originals(review.run, replies)
    target = review.target_message.event_id if review.target_message else None
    context = {
        "review": review,
        "run": review.run,
        "turns": turns,
        "target": target,
        "original": texts.get(target, default),
        "form": form,
        "moves": reviews.allowed_moves(review.status) if can(request, Role.REVIEWER) else (),
        "status_error": status_error,
        "activity": list(review.activity.all()),
        "now": timezone.now(),
    }
    return render(request, "traces/review_detail.html", context, status=status)


@require_GET
@workspace_view()
def review_detail(request, review_id):
    return review_detail_page(request, get_review(request.workspace, review_id))


@require_POST
@workspace_view(Role.REVIEWER)
def review_update(request, review_id):
    review = get_review(request.workspace, review_id)
    form = ReviewEditForm.for_review(
        review,
        request.POST,
        replies=replies_in(turns_of(review.run)),
        assignees=reviews.assignable_users(request.workspace),
        queues=queues_in(request.workspace),
    )
    if form.is_valid():
        try:
            reviews.update_review(review, actor=actor(request), **form.review_fields())
        except reviews.ReviewError as exc:
            add_rule_error(form, exc)
        else:
            return redirect("traces:review_detail", request.workspace.slug, review.pk)
    return review_detail_page(request, review, form=form)


@require_POST
@vary_on_headers("HX-Request")
@workspace_view(Role.REVIEWER)
def review_status(request, review_id):
    """Move a review along the workflow. From the queue (htmx) it answers with the updated row."""
    review = get_review(request.workspace, review_id)
    error, status = None, request.POST.get("status", "")
    try:
        reviews.update_review(review, actor=actor(request), user=request.user, status=status)
    except reviews.ReviewError as exc:
        error = exc.message
    if wants_fragment(request):
        context = {"review": review, "now": timezone.now(), "row_error": error}
        return render(request, "traces/review_list.html#row", context, status=422 if error else 200)
    if error:
        return review_detail_page(request, review, status_error=error, status=422)
    return redirect("traces:review_detail", request.workspace.slug, review.pk)


@require_POST
@workspace_view(Role.REVIEWER)
def review_delete(request, review_id):
    review = get_review(request.workspace, review_id)
    review.delete()
    return redirect("traces:review_list", request.workspace.slug)


# Stats and export.


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def review_stats(request):
    form = StatsFilterForm(request.GET, agents=agents_in(request.workspace))
    stats, agreements, status = None, None, 200
    if form.is_valid():
        data = form.cleaned_data
        by_agent = filter_reviews(reviews_in(request.workspace), {"agent": data.get("agent")})
        stats = review_figures(by_agent, data["since"], data["until"])
        agreements = score_agreement(request.workspace, data["since"], data["until"], data.get("agent"))
    else:
        status = 400
    template = "traces/review_stats.html#figures" if wants_fragment(request) else "traces/review_stats.html"
    context = {"form": form, "stats": stats, "agreements": agreements}
    return render(request, template, context, status=status)


def bad_filters(form):
    """A download's answer to filters that do not hold: 400 naming each field, as plain text."""
    problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
    return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")


@require_GET
@workspace_view()
def review_export(request):
    form = ExportFilterForm(request.GET, agents=agents_in(request.workspace))
    if not form.is_valid():
        return bad_filters(form)
    found = filter_reviews(reviews_in(request.workspace), form.cleaned_data)
    return export_response(request, found)


@require_GET
@workspace_view()
def review_evaluation(request, file_format):
    assignees = reviews.assignable_users(request.workspace)
    form = EvaluationFilterForm(request.GET, agents=agents_in(request.workspace), assignees=assignees)
    if not form.is_valid():
        return bad_filters(form)
    found = filter_reviews(reviews_in(request.workspace), form.cleaned_data)
    return evaluation_response(request, found, file_format)
