"""The Jinja2 environment that renders the rows of the long lists.

Pages are Django templates, but the 50 rows of a Runs, Conversations or Model calls page (and the 500 of
a run's task tree) are Jinja2 templates (jinja2/traces/*_rows.html, placed by the `rows` tag): Jinja2
compiles a template to Python, and renders such a table ~3× faster than the Django template engine, whose
rows alone cost those pages more than their SQL (see tests/bench). The filters are the ones the Django
templates use.
"""

from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime
from django.template.defaultfilters import truncatechars, urlencode

from jinja2 import Environment
from traces.templatetags.drilldown import duration, indent, iso, micro, money, short_id, utc


def environment(**options):
    options.pop("autoescape", None)  # always on, whatever the settings say
    env = Environment(autoescape=True, **options)
    env.filters.update(
        duration=duration,
        indent=indent,
        intcomma=intcomma,
        iso=iso,
        micro=micro,
        money=money,
        naturaltime=naturaltime,
        short_id=short_id,
        truncatechars=truncatechars,
        urlencode=urlencode,
        utc=utc,
    )
    return env
