"""How the JSON API writes its answers: shared by the API object (backoffice.api) and the routers that
answer without validating their output again (traces.api)."""

import datetime
import decimal
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from ninja.renderers import JSONRenderer


def plain_decimal(number):
    """A Decimal in positional notation without trailing zeros: "0" for 0E-10, "0.0000012" for
    1.2E-6, "1500" for 1.5E+3 (str() gives scientific notation for those)."""
    if not number.is_finite():
        return str(number)
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


class PreciseEncoder(DjangoJSONEncoder):
    """Times keep their microseconds (DjangoJSONEncoder cuts them to milliseconds); decimals are
    written out plainly."""

    def default(self, o):
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        if isinstance(o, decimal.Decimal):
            return plain_decimal(o)
        return super().default(o)


class PreciseRenderer(JSONRenderer):
    encoder_class = PreciseEncoder
    json_dumps_params = {"ensure_ascii": False}

    def render(self, request, data, *, response_status):
        text = json.dumps(data, cls=self.encoder_class, **self.json_dumps_params)
        try:
            text.encode()
        except UnicodeEncodeError:
            # A lone surrogate (an answer may echo a field name the client sent) has no UTF-8 form:
            # written as a \u escape, the answer is still valid JSON.
            text = json.dumps(data, cls=self.encoder_class, ensure_ascii=True)
        return text


RENDERER = PreciseRenderer()


def json_response(request, data, *, status=200):
    """An answer rendered as the API renders its own, for data that is already in its output shape."""
    content = RENDERER.render(request, data, response_status=status)
    content_type = f"{RENDERER.media_type}; charset={RENDERER.charset}"  # as NinjaAPI.create_response
    return HttpResponse(content, status=status, content_type=content_type)
