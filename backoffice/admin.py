from django.contrib import admin

from .audit import AuditedAdmin
from .login_throttle import ThrottledAdminAuthenticationForm
from .models import ApiKey, AuditEntry, Membership, Workspace

# The admin's log-in page is throttled like the main one.
admin.site.login_form = ThrottledAdminAuthenticationForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(AuditedAdmin, admin.ModelAdmin):
    # A deleted workspace takes its audit log with it: nothing to record the deletion in.
    audited, audit_name, audit_deletes = (
        ("name", "retention_days", "audit_retention_days"),
        "workspace",
        False,
    )

    list_display = ["name", "slug", "retention_days", "audit_retention_days", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin, admin.ModelAdmin):
    audited, audit_name = ("role",), "member"

    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key` or in Settings: the secret is shown once there."""

    list_display = [
        "label",
        "prefix",
        "workspace",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["workspace"]
    # Scopes are chosen when a key is made (Settings or create_api_key): a new key, not an edit.
    readonly_fields = ["prefix", "key_hash", "scopes", "created_at", "last_used_at"]
    fields = [
        "workspace",
        "label",
        "prefix",
        "scopes",
        "key_hash",
        "expires_at",
        "revoked_at",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by the app, never edited nor deleted (backoffice.audit).
    A workspace that has entries cannot be deleted here either: Django refuses to cascade into them."""

    list_display = ["created_at", "workspace", "actor_name", "action", "target"]
    list_filter = ["workspace", "action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
