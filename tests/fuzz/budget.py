"""How much the fuzz suite sends, read from the environment once."""

import os

from hypothesis import HealthCheck, Phase, settings

SKIP_REASON = "SKIP_FUZZ is set"


def skip_fuzz():
    return os.environ.get("SKIP_FUZZ", "") not in ("", "0")


def examples(default):
    """`default` examples in a normal run; FUZZ_EXAMPLES=5000 sends 5000 instead (per test, or per
    operation of the API schema)."""
    wanted = os.environ.get("FUZZ_EXAMPLES", "")
    return int(wanted) if wanted else default


SEED = os.environ.get("FUZZ_SEED", "")


def fuzz_settings(default_examples):
    """Deterministic unless FUZZ_SEED says otherwise; no example database (nothing written to disk);
    no shrinking, because each test collects every failure itself rather than stopping at the first."""
    return settings(
        max_examples=examples(default_examples),
        derandomize=not SEED,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
