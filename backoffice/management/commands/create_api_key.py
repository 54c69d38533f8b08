from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from backoffice.models import DEFAULT_SCOPES, ApiKey, Workspace, parse_scopes


class Command(BaseCommand):
    help = "Create an API key for a workspace (created when missing). The key is the last line printed."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--label", required=True, help="what the key is for, e.g. 'support-bot prod'")
        parser.add_argument(
            "--scope",
            default=",".join(DEFAULT_SCOPES),
            help="comma-separated scopes among ingest, read, admin (default: ingest,read)",
        )

    def handle(self, *args, workspace, label, scope, **options):
        try:
            scopes = parse_scopes(scope)
        except ValueError as exc:
            raise CommandError(f"--scope: {exc}") from None
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
        api_key, raw_key = ApiKey.issue(found, label.strip(), scopes=scopes)
        self.stdout.write(
            f"API key {api_key.label!r} for workspace {found.slug} with scopes {api_key.scopes} "
            "(shown once, store it now):"
        )
        self.stdout.write(raw_key)
