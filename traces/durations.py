"""How a duration shows, on every page, row, graph and card: one rule.

850 ms, 4.91 s, 2 m 03 s, 1 h 02 m; a dash when unknown.
"""

UNKNOWN = "—"


def duration(ms):
    if ms is None or ms == "":
        return UNKNOWN
    ms = round(float(ms))
    if ms < 0:
        return f"-{duration(-ms)}"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60} m {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} m"
