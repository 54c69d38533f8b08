"""How often reviewers agree: for each score config, over the runs (and replies) that two or more
reviewers scored.

- percent agreement: of every pair of reviewers' scores on the same thing, the share that are equal;
- per reviewer pair: how many things both scored, their agreement, and Cohen's kappa (categorical,
  boolean) or Pearson's correlation (numeric);
- Fleiss' kappa when more than two reviewers scored (categorical, boolean), in the form for a varying
  number of raters per thing (Fleiss 1971, each thing weighted the same).

A kappa is None where it is undefined (every score in one category: no agreement beyond chance to
measure), a correlation where either side is constant or fewer than two things are shared.
"""

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from traces.models import Score, ScoreConfig, ScoreDataType, ScoreSource

# Reviewer pairs shown per config: the ones that share the most.
MAX_PAIRS = 20


@dataclass
class Pair:
    first: str
    second: str
    shared: int
    agreement: float
    kappa: float | None = None
    correlation: float | None = None


@dataclass
class ConfigAgreement:
    name: str
    data_type: str
    items: int  # things two or more reviewers scored
    reviewers: int
    agreement: float | None
    fleiss_kappa: float | None = None
    pairs: list = field(default_factory=list)

    @property
    def numeric(self):
        return self.data_type == ScoreDataType.NUMERIC


def cohens_kappa(first, second):
    """Cohen's kappa of two equally long lists of labels."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(items):
    """Fleiss' kappa of items given as lists of labels (two or more each)."""
    totals, agreements, ratings = Counter(), [], 0
    for labels in items:
        n, counts = len(labels), Counter(labels)
        agreements.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        totals.update(counts)
        ratings += n
    observed = sum(agreements) / len(agreements)
    expected = sum((count / ratings) ** 2 for count in totals.values())
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def pearson(first, second):
    if len(first) < 2:
        return None
    try:
        return statistics.correlation(first, second)
    except statistics.StatisticsError:  # a constant side
        return None


def reviewer_scores(workspace, start=None, end=None, agent=None):
    """{config name: {(run, message): {user: value}}}, the reviewers' names, and the configs. Two queries."""
    in_workspace = ScoreConfig.objects.filter(workspace=workspace)
    configs = {config.name: config for config in in_workspace}
    scores = Score.objects.filter(
        workspace=workspace,
        source=ScoreSource.REVIEWER,
        user__isnull=False,
        run__isnull=False,
        # A subquery, not the names: the query runs (and counts) the same when there is no config.
        name__in=in_workspace.values("name"),
    )
    if start is not None:
        scores = scores.filter(updated_at__gte=start, updated_at__lt=end)
    if agent:
        scores = scores.filter(run__agent__agent_id=agent)
    rows = scores.order_by("updated_at", "id").values_list(
        "name", "run_id", "message_id", "user_id", "author", "data_type", "value", "string_value"
    )
    found, names = defaultdict(lambda: defaultdict(dict)), {}
    for name, run, message, user, author, data_type, value, label in rows:
        # The latest score of a reviewer on a thing counts; a numeric one by its number, others by label.
        found[name][(run, message)][user] = value if data_type == ScoreDataType.NUMERIC else label
        names[user] = author
    return found, names, configs


def agreement(workspace, start=None, end=None, agent=None):
    """ConfigAgreement of each config that two reviewers scored on a same thing, by config name."""
    found, names, configs = reviewer_scores(workspace, start, end, agent)
    results = []
    for name, config in sorted(configs.items()):
        shared = [raters for raters in found.get(name, {}).values() if len(raters) >= 2]
        if shared:
            results.append(config_agreement(config, shared, names))
    return results


def config_agreement(config, shared, names):
    numeric = config.data_type == ScoreDataType.NUMERIC
    agreed = compared = 0
    together = defaultdict(list)  # (user, user) → [(value, value)]
    for raters in shared:
        for first, second in itertools.combinations(sorted(raters), 2):
            pair = (raters[first], raters[second])
            together[first, second].append(pair)
            agreed += pair[0] == pair[1]
            compared += 1
    pairs = []
    for (first, second), values in together.items():
        left, right = [a for a, _ in values], [b for _, b in values]
        pairs.append(
            Pair(
                first=names[first],
                second=names[second],
                shared=len(values),
                agreement=sum(a == b for a, b in values) / len(values),
                kappa=None if numeric else cohens_kappa(left, right),
                correlation=pearson(left, right) if numeric else None,
            )
        )
    pairs.sort(key=lambda pair: (-pair.shared, pair.first, pair.second))
    reviewers = {user for raters in shared for user in raters}
    fleiss = None
    if not numeric and len(reviewers) > 2:
        fleiss = fleiss_kappa([list(raters.values()) for raters in shared])
    return ConfigAgreement(
        name=config.name,
        data_type=config.data_type,
        items=len(shared),
        reviewers=len(reviewers),
        agreement=agreed / compared,
        fleiss_kappa=fleiss,
        pairs=pairs[:MAX_PAIRS],
    )
