from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from backoffice.models import ApiKey, Workspace


class Command(BaseCommand):
    help = "Create an API key for a workspace (created when missing). The key is the last line printed."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--label", required=True, help="what the key is for, e.g. 'support-bot prod'")

    def handle(self, *args, workspace, label, **options):
        slug = slugify(workspace)
        if not slug or slug != workspace:
            raise CommandError(
                f"--workspace must be a slug (letters, digits, -, _); try {slug or 'default'!r}"
            )
        if not label.strip():
            raise CommandError("--label must not be empty")
        found, created = Workspace.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").title()}
        )
        if created:
            self.stdout.write(f"Created workspace {found.slug}")
        api_key, raw_key = ApiKey.issue(found, label.strip())
        self.stdout.write(f"API key {api_key.label!r} for workspace {found.slug} (shown once, store it now):")
        self.stdout.write(raw_key)
