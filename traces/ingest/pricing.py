"""Cost of a model call from the prices, when the client sends none.

A workspace's own price rows win (Settings › Prices), then global rows an admin added; otherwise the
default price comes from the genai-prices package, as it stood when the call was made. Updating the
defaults is bumping that package's pin. A call no price matches has an unknown cost (None), never $0.
"""

from decimal import Decimal
from fnmatch import fnmatchcase

import genai_prices
from django.db.models import Q

from traces.models import CENT_FRACTION, ModelPrice

from . import usage

MILLION = Decimal(1_000_000)
DEFAULTS_SOURCE = f"genai-prices {genai_prices.__version__}"  # named on the Prices page


class PriceBook:
    """The prices a workspace sees: its own rows first, then the global rows, then genai-prices. One query."""

    def __init__(self, workspace, package_prices=None):
        self.package_prices = package_prices or PackagePrices()
        rows = ModelPrice.objects.filter(Q(workspace=workspace) | Q(workspace__isnull=True))
        # Workspace rows beat global rows; a longer (more specific) pattern beats a shorter one;
        # the newest effective date wins among the ones already in force; the row added last breaks
        # ties, so a price added beside another with the same pattern replaces it.
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
        """The price row for a model at a time, or None (then the package's price applies)."""
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

    def cost(self, model, provider, when, tokens):
        """(input cost, output cost) in dollars at the cost columns' precision, or None when no price
        matches. Each part is rounded as stored, so their sum is the stored total. `tokens` maps the
        model call's token columns (prompt_tokens, cached_tokens, …) to counts."""
        price = self.find(model, when)
        parts = row_cost(price, tokens) if price else self.package_prices.cost(model, provider, when, tokens)
        if parts is None:
            return None
        return tuple(part.quantize(CENT_FRACTION) for part in parts)


def row_cost(price, tokens):
    """A price row has one rate for input, cached input and output: cache creation is input, reasoning
    is output."""
    prompt = tokens["prompt_tokens"]
    cached = min(tokens["cached_tokens"], prompt)
    input_cost = (prompt - cached) * price.input_per_million + cached * price.cached_per_million
    return input_cost / MILLION, tokens["completion_tokens"] * price.output_per_million / MILLION


class PackagePrices:
    """The default prices of calls worked out ahead: genai-prices takes ~0.25 ms a call, and it reads no
    row, so ingest asks it before the workspace lock (see ahead) and the fold, under the lock, finds the
    answer here. A call asked about again with other values (the payload mode cut the response its
    usage came from) is priced then."""

    def __init__(self):
        self.costs = {}

    def ahead(self, events):
        """Price the `llm.call` events that send no cost, as the fold will read them."""
        for event in events:
            if event.type == "llm.call" and sent_cost(event.body) is None:
                body = event.body
                self.cost(body.model, body.provider, event.timestamp, usage.of_llm_call(body))

    def cost(self, model, provider, when, tokens):
        key = (model, provider, when, *tokens.items())
        if key not in self.costs:
            self.costs[key] = package_cost(model, provider, when, tokens)
        return self.costs[key]


def package_cost(model, provider, when, tokens):
    """The default price of genai-prices: by provider when the call names one the package knows, else by
    the model name alone; its rates for cached reads, cache writes and reasoning where it has them."""
    prompt, completion = tokens["prompt_tokens"], tokens["completion_tokens"]
    cached = min(tokens["cached_tokens"], prompt)
    usage = genai_prices.Usage(
        input_tokens=prompt,
        cache_read_tokens=cached,
        # The package checks that the cache parts fit in the input.
        cache_write_tokens=min(tokens["cache_creation_tokens"], prompt - cached),
        output_tokens=completion,
        output_reasoning_tokens=min(tokens["reasoning_tokens"], completion),
    )
    for provider_id in dict.fromkeys((provider or None, None)):
        try:
            priced = genai_prices.calc_price(
                usage, model, provider_id=provider_id, genai_request_timestamp=when
            )
        except (LookupError, ValueError):
            # A provider or model the package does not know (LookupError), or usage it refuses: a price
            # never fails an ingest.
            continue
        return priced.input_price, priced.output_price
    return None


def sent_cost(body):
    """The cost columns of an `llm.call` body that sends its cost, kept as sent; None when it sends none.
    The body is in its stored (JSON) form: amounts are text."""
    input_cost, output_cost, cost = (
        Decimal(value) if value is not None else None
        for value in (body.input_cost, body.output_cost, body.cost)
    )
    if cost is None:
        if input_cost is None and output_cost is None:
            return None
        cost = (input_cost or 0) + (output_cost or 0)
    return {"input_cost": input_cost, "output_cost": output_cost, "cost": cost, "cost_sent": True}


def priced_cost(prices, model, provider, when, tokens):
    """The cost columns of a call priced by the PriceBook: all None when no price matches."""
    parts = prices.cost(model, provider, when, tokens)
    input_cost, output_cost = parts or (None, None)
    cost = input_cost + output_cost if parts else None
    return {"input_cost": input_cost, "output_cost": output_cost, "cost": cost, "cost_sent": False}


def known_sum(costs):
    """The sum of the known costs, None when none is known: what SQL's SUM gives over the cost column."""
    known = [cost for cost in costs if cost is not None]
    return sum(known, Decimal(0)) if known else None
