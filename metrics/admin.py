from django.contrib import admin

from .models import Dashboard, DashboardCard, TrackedEvent


@admin.register(TrackedEvent)
class TrackedEventAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "timestamp", "session", "run"]
    list_filter = ["workspace", "name"]
    raw_id_fields = ["agent", "session", "run"]
    show_full_result_count = False

    # Read-only: events arrive through ingest and leave through `purge`, which keep their daily
    # roll-up (metrics.rollups.tracked_events) equal to them; an edit here would not.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DashboardCardInline(admin.TabularInline):
    model = DashboardCard
    fields = ["position", "title", "kind", "source", "aggregation", "property", "width", "height"]
    extra = 0


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "slug", "is_default"]
    list_filter = ["workspace"]
    inlines = [DashboardCardInline]
