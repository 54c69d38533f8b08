"""What a request says about its client, read the same way by every caller (log-in throttle, rate limits).

Behind a reverse proxy (BEHIND_PROXY=1) REMOTE_ADDR is the proxy's own address, the same for every
client; the client's is the last X-Forwarded-For entry, the one our proxy appended (entries before it
come from the client and can say anything). Without a proxy the header is the client's own claim and
is ignored.
"""

import ipaddress

from django.conf import settings


def client_address(request):
    """The client's IP address as text ("" when the request carries none)."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            try:
                return str(ipaddress.ip_address(forwarded))
            except ValueError:
                pass  # not an address: a misconfigured proxy; count the connection's address instead
    return request.META.get("REMOTE_ADDR", "")
