from django.contrib import admin

from .models import TrackedEvent


@admin.register(TrackedEvent)
class TrackedEventAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "timestamp", "session", "run"]
    list_filter = ["workspace", "name"]
    raw_id_fields = ["agent", "session", "run"]
    show_full_result_count = False
