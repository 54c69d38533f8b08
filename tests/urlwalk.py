"""Every URL pattern of the project, with the access policy its view declares, and real values for its
path parameters taken from one workspace's rows.

Nothing here lists URLs by hand: the walk reads the urlconf, so a page added anywhere is checked.
A view declares its policy with a mark:
- `required_role` (set by `workspace_view(role)`): a workspace page for members with that role;
- `api_key_required` (ninja operations, `api_key_view`): answers 401 without a key;
- `login_required = False` without a key (`login_not_required`, ninja's schema and docs): public;
- `personal` (`personal_view`): any signed-in user, about their own things.
Django's own admin and auth views are the only ones allowed without a mark.
"""

import re
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter

# Django's own views: admin checks staff itself; login and logout are the auth flow.
DJANGO_NAMESPACES = {"admin"}
DJANGO_NAMES = {"login", "logout"}
UNKNOWN_INT = 2_000_000_000
# Parameter names whose row is not found by the generic rules below: (model, attribute[, path to
# the workspace when the model has none of its own]).
ALIASES = {
    "task_id": ("traces.Task", "step_id"),
    "member_id": ("backoffice.Membership", "pk"),
    "dashboard": ("metrics.Dashboard", "slug"),
    "card": ("metrics.DashboardCard", "pk", "dashboard__workspace"),
    "name": ("traces.EventType", "name"),
}


@dataclass
class Route:
    route: str
    name: str
    callback: object
    converters: dict = field(default_factory=dict)

    @property
    def params(self):
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)

    @property
    def policy(self):
        callback = self.callback
        if hasattr(callback, "required_role"):
            return "workspace"
        if getattr(callback, "api_key_required", False):
            return "api_key"
        if getattr(callback, "login_required", True) is False:
            return "public"
        if getattr(callback, "personal", False):
            return "personal"
        if self.name.split(":")[0] in DJANGO_NAMESPACES or self.name in DJANGO_NAMES:
            return "django"
        return None

    def url(self, values):
        def fill(match):
            return str(values[match.group(1)])

        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, self.route)


def routes(resolver=None, prefix="", namespace=""):
    """Every URLPattern under the resolver, its route string joined from the resolvers above it."""
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            if inner.split(":")[0] in DJANGO_NAMESPACES:
                found.append(Route(prefix + str(pattern.pattern), f"{inner}:*", None))
                continue
            found.extend(routes(pattern, prefix + str(pattern.pattern), inner))
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            converters = getattr(pattern.pattern, "converters", {})
            found.append(Route(prefix + str(pattern.pattern), name, pattern.callback, dict(converters)))
    return found


def _scoped_models():
    """Models with a direct workspace foreign key, the rows a path parameter can name."""
    for model in apps.get_models():
        try:
            if model._meta.get_field("workspace").is_relation:
                yield model
        except FieldDoesNotExist:
            continue


def _model_for_stem(stem):
    """card → DashboardCard, run → Run: the scoped model whose name ends with the parameter's stem."""
    stem = stem.replace("_", "")
    matches = [m for m in _scoped_models() if m._meta.model_name.endswith(stem)]
    return min(matches, key=lambda m: len(m._meta.model_name)) if matches else None


def param_value(name, converter, workspace):
    """(value, real): a value naming a row of `workspace`, or a placeholder when no row is found."""
    if name == "workspace":
        return workspace.slug, True
    is_int = isinstance(converter, IntConverter)
    scope = "workspace"
    if name in ALIASES:
        label, attr, *path = ALIASES[name]
        model, attr, scope = apps.get_model(label), ("pk" if is_int else attr), (path or [scope])[0]
    else:
        model = next((m for m in _scoped_models() if not is_int and _has_field(m, name)), None)
        attr = name
        if model is None:
            model, attr = _model_for_stem(name.removesuffix("_id").removesuffix("_pk")), "pk"
    row = model.objects.filter(**{scope: workspace}).order_by("pk").first() if model else None
    if row is None:
        return (UNKNOWN_INT if is_int else "no-such-row"), False
    return getattr(row, attr), True


def _has_field(model, name):
    """A plain column of that name (get_field also answers a foreign key's `<name>_id`)."""
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return found.name == name and not found.is_relation


def fill(route, workspace):
    """The route's URL for `workspace`'s rows, and whether every parameter names a real row."""
    values, real = {}, True
    for name in route.params:
        values[name], found = param_value(name, route.converters.get(name), workspace)
        real = real and found
    return route.url(values), real
