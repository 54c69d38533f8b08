"""How money shows, on every page, row and card: one rule.

Cents from a cent up ($1,234.57, $0.05); below a cent the significant digits ($0.000435: a model
call costs fractions of a cent); a dash for an unknown cost (no price matched and the client sent
none), never $0.
"""

from decimal import Decimal

UNKNOWN = "—"
SIGNIFICANT_DIGITS = 3  # below a cent: $0.000435, not $0.0004
CENT = Decimal("0.01")


def money(value):
    if value is None or value == "":
        return UNKNOWN
    value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if value == 0:
        return "$0"
    if abs(value) < CENT:
        # The exponent of the last significant digit kept: -6 for 0.000435.
        last = value.adjusted() - SIGNIFICANT_DIGITS + 1
        return f"${value.quantize(Decimal(1).scaleb(last)).normalize():f}"
    return f"${value:,.2f}"
