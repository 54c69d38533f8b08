from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from backoffice.models import Membership, Role, Workspace


class Command(BaseCommand):
    help = (
        "For local demos: make sure an 'admin' superuser exists (password 'admin') and is admin everywhere."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, username, password, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_superuser(username=username, password=password, email="")
            self.stdout.write(f"Created superuser {username!r}")
        for workspace in Workspace.objects.all():
            Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": Role.ADMIN})
