"""The WSGI application served in production: `gunicorn backoffice.wsgi`."""

from django.core.wsgi import get_wsgi_application

from backoffice import startup

# A bad setting stops the worker with one line. 4 is what gunicorn's arbiter reads as "the application
# failed to load": it shuts down instead of starting the worker again and again.
startup.settings_or_exit("backoffice.wsgi", status=4)
application = get_wsgi_application()
