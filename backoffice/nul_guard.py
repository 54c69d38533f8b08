"""NUL characters in what a request names: answered 4xx before any view, never a database 500.

PostgreSQL text and jsonb cannot hold U+0000, so a path, query parameter or form field carrying one
fails the first query it reaches ("cannot contain NUL"); SQLite stores it. One check here gives both
databases the same answer: the API a JSON 400 naming the field (`path` for the URL path), the pages a
404 for a path (no object has such an id) and a 400 naming the parameter otherwise. JSON bodies of the
API are checked by its schemas (backoffice/api_errors.py), the ingest by its own validation.
"""

from django.http import Http404, HttpResponse, JsonResponse

NUL = "\x00"
API_PREFIX = "/api/"


def nul_field(request):
    """The name of the first part of the request that holds a NUL: `path`, a parameter or a form field."""
    if NUL in request.path_info:
        return "path"
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return name.replace(NUL, "\\0")
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for name, values in request.POST.lists():
            if NUL in name or any(NUL in value for value in values):
                return name.replace(NUL, "\\0")
    return None


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field = nul_field(request)
        if field is None:
            return self.get_response(request)
        detail = f"{field}: must not contain the NUL character (U+0000)"
        if request.path_info.startswith(API_PREFIX) or request.path_info.startswith("/v1/"):
            return JsonResponse({"detail": detail, "field": field}, status=400)
        if field == "path":
            raise Http404("No such page")
        return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")
