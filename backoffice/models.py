import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "bo_"


class Workspace(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Retention tiers (backoffice.retention): payloads go first, then the rows, then the daily roll-ups
    # that keep the dashboards' history. Each tier is at least as long as the one before it.
    payload_retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty keeps payloads as long as their rows."
    )
    retention_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty keeps data forever.")
    rollup_retention_days = models.PositiveIntegerField(
        null=True, blank=True, default=365, help_text="Empty keeps the daily roll-ups forever."
    )
    # The audit log's own retention, at least as long as the data's: it outlives what it describes.
    audit_retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty keeps the audit log forever."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "workspaces"
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Profile(models.Model):
    """A user's own preferences, the same in every workspace."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # An IANA zone name; empty follows the browser's zone (backoffice/timezones.py).
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "profiles"

    def __str__(self):
        return f"{self.user}'s profile"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


# What each role may do, lowest first: a role includes the ones before it.
ROLE_ORDER = [Role.VIEWER, Role.REVIEWER, Role.ADMIN]


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "memberships"
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"

    def allows(self, role):
        return ROLE_ORDER.index(self.role) >= ROLE_ORDER.index(role)


class Scope(models.TextChoices):
    """What an API key may do. Each scope is granted on its own: `admin` does not include the others."""

    INGEST = "ingest", "Ingest: send events and spans"
    READ = "read", "Read: runs, conversations, reviews (and file reviews)"
    ADMIN = "admin", "Admin: delete reviews, configure the workspace"


DEFAULT_SCOPES = [Scope.INGEST, Scope.READ]


def parse_scopes(text):
    """The scopes of a comma-separated list, in their canonical order; ValueError names an unknown one."""
    names = {name.strip().lower() for name in text.split(",") if name.strip()}
    unknown = names - set(Scope.values)
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)[0]!r}: choose among {', '.join(Scope.values)}")
    if not names:
        raise ValueError(f"name at least one scope among {', '.join(Scope.values)}")
    return [scope for scope in Scope.values if scope in names]


def hash_key(raw_key):
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, shown to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Comma-separated Scope values, in Scope order.
    scopes = models.CharField(max_length=64, default="ingest,read")

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        db_table = "api_keys"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.label} ({self.prefix}…)"

    @property
    def scope_list(self):
        return [scope for scope in self.scopes.split(",") if scope]

    def allows(self, scope):
        return scope in self.scope_list

    @classmethod
    def issue(cls, workspace, label, scopes=DEFAULT_SCOPES, **fields):
        """Create a key; returns (api_key, raw_key). The raw key is never stored."""
        raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = cls.objects.create(
            workspace=workspace,
            label=label,
            prefix=raw_key[:10],
            key_hash=hash_key(raw_key),
            scopes=",".join(parse_scopes(",".join(scopes))),
            **fields,
        )
        return api_key, raw_key

    @classmethod
    def find(cls, raw_key):
        """The usable key for this secret, or None. Hits the database."""
        if not raw_key or not raw_key.startswith(KEY_PREFIX):
            return None
        return cls.objects.usable().select_related("workspace").filter(key_hash=hash_key(raw_key)).first()


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        now = timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class Invitation(models.Model):
    """An admin's offer of a role in a workspace, taken up by whoever signs in with its link (and, when
    it names an e-mail, has that address). The token is stored hashed, like API keys."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        db_table = "invitations"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.email or 'link'} as {self.role} in {self.workspace_id}"

    @classmethod
    def issue(cls, workspace, role, invited_by, email="", days=7):
        """Create an invitation; returns (invitation, raw_token). The raw token is never stored."""
        raw_token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=hash_key(raw_token),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, raw_token

    @classmethod
    def find(cls, raw_token):
        """The invitation of this token, whatever its state, or None. Hits the database."""
        if not raw_token:
            return None
        found = cls.objects.select_related("workspace", "invited_by")
        return found.filter(token_hash=hash_key(raw_token)).first()

    def refusal(self, user):
        """Why `user` cannot accept this invitation, or None when they can."""
        if self.revoked_at:
            return "This invitation was withdrawn."
        if self.accepted_at:
            return "This invitation has already been used."
        if self.expires_at <= timezone.now():
            return "This invitation has expired. Ask an admin of the workspace for a new one."
        if self.email and self.email.lower() != (user.email or "").lower():
            return f"This invitation is for {self.email}: sign in with the account of that address."
        return None


class RateCounter(models.Model):
    """One fixed-window counter of the rate limits and the log-in throttle (backoffice/ratelimit.py),
    when CACHE_URL is the database: every process adds to the same row in one atomic statement."""

    name = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    # Unix seconds when the window closes; rows past it are deleted as new windows open.
    expires = models.BigIntegerField(db_index=True)

    class Meta:
        db_table = "rate_counters"

    def __str__(self):
        return f"{self.name}: {self.count}"


class AuditEntry(models.Model):
    """Who changed what in a workspace: members, keys, prices, redaction, retention, capture modes,
    dashboards and cards, exports of data. Append-only: see backoffice.audit."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the entry still names the person after their account is deleted.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64, help_text="A dotted name: member.role_changed, key.revoked…")
    target = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "audit_log"
        indexes = [
            # Settings › Audit log: a workspace's entries, latest first, keyset on (created_at, id).
            models.Index(fields=["workspace", "-created_at", "-id"], name="audit_latest"),
        ]

    def __str__(self):
        return f"{self.actor_name} {self.action} {self.target}"


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class CostRecomputeJob(models.Model):
    """Recomputing model-call costs from the price table for a period, a bounded batch at a time.

    The job row is the state: the cursor is the last model call handled, so the work resumes
    wherever it stopped, from whichever process picks it up.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="cost_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Included.")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.RUNNING)
    total = models.PositiveIntegerField(
        default=0, help_text="Model calls in the period when the job started."
    )
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Calls whose cost changed.")
    # Keyset position: the (created_at, id) of the last model call handled.
    cursor_at = models.DateTimeField(null=True, blank=True)
    cursor_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cost_recompute_jobs"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Recompute {self.period_start}–{self.period_end}"

    @property
    def percent(self):
        if self.status == JobStatus.DONE or not self.total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.done / self.total))
