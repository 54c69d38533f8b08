"""Cost of a model call from the price table, when the client sends none."""

from decimal import Decimal
from fnmatch import fnmatchcase

from django.db.models import Q

from traces.models import CENT_FRACTION, ModelPrice

MILLION = Decimal(1_000_000)


class PriceBook:
    """The prices a workspace sees: its own rows first, then the global defaults. One query."""

    def __init__(self, workspace):
        rows = ModelPrice.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))
        # Workspace rows beat global rows; a longer (more specific) pattern beats a shorter one;
        # the newest effective date wins among the ones already in force; the row added last breaks
        # ties, so a price added beside a shipped default with the same pattern replaces it.
        self.prices = sorted(
            rows,
            key=lambda p: (
                p.workspace_id is None,
                -len(p.model_pattern.replace("*", "")),
                -(p.effective_from.toordinal() if p.effective_from else 0),
                -p.pk,
            ),
        )
        self._cache = {}

    def find(self, model, when):
        key = (model.lower(), when.date())
        if key not in self._cache:
            self._cache[key] = next(
                (
                    p
                    for p in self.prices
                    if fnmatchcase(model.lower(), p.model_pattern.lower())
                    and (p.effective_from is None or p.effective_from <= when.date())
                ),
                None,
            )
        return self._cache[key]

    def cost(self, model, when, prompt_tokens, completion_tokens, cached_tokens):
        """(input cost, output cost) in dollars at the cost columns' precision, or None when no price
        matches. Each part is rounded as stored, so their sum is the stored total."""
        price = self.find(model, when)
        if price is None:
            return None
        uncached = max(prompt_tokens - cached_tokens, 0)
        input_cost = (uncached * price.input_per_million + cached_tokens * price.cached_per_million) / MILLION
        output_cost = completion_tokens * price.output_per_million / MILLION
        return input_cost.quantize(CENT_FRACTION), output_cost.quantize(CENT_FRACTION)
