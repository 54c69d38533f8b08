"""Short human forms of durations and rates, shared by the graph, the timeline and their templates."""


def duration(ms):
    """850 ms, 1.2 s, 2 m 05 s, 3 h 04 m; an em dash when unknown."""
    if ms is None:
        return "—"
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} m {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def percent(rate):
    """A share between 0 and 1 as a percentage: 0 %, 0.4 %, 12 %."""
    value = float(rate) * 100
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    return f"{value:.1f}%"
