"""Scores figures: the first workspace's latest runs scored through POST /api/v1/scores/batch (100,000
at full scale, a judge's `helpfulness` 1–5 and `hallucination` true/false), then a card over them:
average helpfulness per day by agent over the last 30 days.

The scores' ids are fixed by run, so a second bench run replaces them (the upsert path) instead of
adding more."""

import json

from django.db.models import Min

from backoffice.models import ApiKey, Workspace
from metrics.dashboards import rule
from metrics.engine import evaluate
from metrics.models import Aggregation, DashboardCard, Kind, Source, TimeRange
from traces.models import Run, Score, ScoreConfig

from .ingest import ClientPoster, HttpPoster, post_all
from .measure import Figure, NotMeasured, median_ms, not_measured, timed

FULL_SCORES = 100_000
BATCH = 1_000
SCORE_NAME, SCORE_TARGET = "Scores through POST /api/v1/scores/batch, checked and stored", "≥ 2,000 scores/s"
CARD_NAME, CARD_TARGET = "Scores card: average helpfulness per day by agent, 30 days", "≤ 500 ms"


def scores_wanted(scale):
    return max(round(FULL_SCORES * scale), 200)


def bodies(run_ids):
    """Batches of scores, two per run (so half as many runs as scores), as request bodies."""
    batch = []
    for n, run_id in enumerate(run_ids):
        batch.append({"id": f"bench-h-{run_id}", "run_id": run_id, "name": "helpfulness", "value": n % 5 + 1})
        truth = n % 7 == 0
        batch.append({"id": f"bench-x-{run_id}", "run_id": run_id, "name": "hallucination", "value": truth})
        if len(batch) >= BATCH:
            yield json.dumps({"scores": [{**score, "source": "judge"} for score in batch]})
            batch = []
    if batch:
        yield json.dumps({"scores": [{**score, "source": "judge"} for score in batch]})


def stored(status, content):
    outcome = json.loads(content)
    if status != 200 or outcome["rejected"]:
        raise NotMeasured(f"the scores API answered {status}: {content[:300]!r}")
    return outcome["created"] + outcome["updated"]


def score_figures(facts, options, *, server=None, client=None):
    workspace = Workspace.objects.get(slug=facts.workspaces[0])
    for name, fields in (
        ("helpfulness", {"data_type": "numeric", "min_value": 1, "max_value": 5}),
        ("hallucination", {"data_type": "boolean"}),
    ):
        ScoreConfig.objects.get_or_create(workspace=workspace, name=name, defaults=fields)
    wanted = scores_wanted(options.scale)
    run_ids = list(
        Run.objects.filter(workspace=workspace)
        .order_by("-started_at", "-id")
        .values_list("run_id", flat=True)[: wanted // 2]
    )
    api_key, key = ApiKey.issue(workspace, "bench scores")
    try:
        poster = (
            HttpPoster(server.port, key, "/api/v1/scores/batch")
            if server
            else ClientPoster(client, key, "/api/v1/scores/batch")
        )
        seconds, count = post_all(poster, bodies(run_ids), options.clients if server else 1, stored)
        rate = count / seconds
        note = f"{count:,} scores of {len(run_ids):,} runs in {seconds:.1f} s, {BATCH:,} a request"
        figures = [Figure(SCORE_NAME, SCORE_TARGET, f"{rate:,.0f} scores/s", rate >= 2000, note=note)]
    except NotMeasured as exc:
        figures = [not_measured(SCORE_NAME, SCORE_TARGET, str(exc))]
    finally:
        api_key.delete()
    figures.append(card_figure(workspace, options.repeats))
    return figures


def card_figure(workspace, repeats):
    scores = Score.objects.filter(workspace=workspace, name="helpfulness")
    first = scores.aggregate(first=Min("created_at"))["first"]
    if first is None:
        return not_measured(CARD_NAME, CARD_TARGET, "no helpfulness score was stored")
    card = DashboardCard(
        title="Helpfulness by agent",
        kind=Kind.LINE,
        source=Source.SCORES,
        aggregation=Aggregation.AVG,
        property="value",
        filters=[rule("name", "eq", "helpfulness")],
        breakdown="agent",
        bucket="day",
        time_range=TimeRange.MONTH,
    )
    evaluate(card, workspace)  # warm: plans, caches
    ms = median_ms([timed(lambda: evaluate(card, workspace))[0] for _ in range(repeats)])
    return Figure(
        CARD_NAME, CARD_TARGET, f"{ms:,.0f} ms", ms <= 500, note=f"over {scores.count():,} helpfulness scores"
    )
