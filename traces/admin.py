from django.contrib import admin
from django.db import transaction

from backoffice.models import Workspace
from traces.locks import lock_workspace

from .models import (
    Agent,
    ChatMessage,
    Event,
    ModelCall,
    ModelPrice,
    RedactionRule,
    Review,
    ReviewActivity,
    Run,
    Session,
    Task,
)
from .rollups import daily as trace_rollups


class KeepsTraceRollups:
    """Changes made here keep the daily trace roll-ups current, as the ingest fold does: under the
    workspace's ingest lock, the runs the change may move lose what they add before it and get it back
    after (traces/trace_rollups.py)."""

    def rollup_runs(self, objs):
        """Keys of the runs whose rows (or whose tasks' and model calls' rows) these objects move."""
        raise NotImplementedError

    def keeping_rollups(self, objs, write):
        with transaction.atomic():
            for workspace in sorted({obj.workspace_id for obj in objs}):
                lock_workspace(Workspace(pk=workspace))
            runs = self.rollup_runs(objs)
            trace_rollups.subtract(trace_rollups.Scope.of(runs=runs))
            write()
            # A run added here has no rows before; a run moved to another is in both.
            trace_rollups.add(trace_rollups.Scope.of(runs=runs | self.rollup_runs(objs)))

    def save_model(self, request, obj, form, change):
        self.keeping_rollups(
            [obj], lambda: super(KeepsTraceRollups, self).save_model(request, obj, form, change)
        )

    def delete_model(self, request, obj):
        self.keeping_rollups([obj], lambda: super(KeepsTraceRollups, self).delete_model(request, obj))

    def delete_queryset(self, request, queryset):
        self.keeping_rollups(
            list(queryset), lambda: super(KeepsTraceRollups, self).delete_queryset(request, queryset)
        )


class OwnRuns(KeepsTraceRollups):
    def rollup_runs(self, objs):
        return {obj.pk for obj in objs if obj.pk}


class RunRows(KeepsTraceRollups):
    """Tasks and model calls: the run they belong to now, and the one they belonged to when stored."""

    def rollup_runs(self, objs):
        stored = self.model.objects.filter(pk__in=[obj.pk for obj in objs if obj.pk]).values_list(
            "run", flat=True
        )
        return {obj.run_id for obj in objs if obj.run_id} | set(stored)


@admin.register(Agent)
class AgentAdmin(KeepsTraceRollups, admin.ModelAdmin):
    """Deleting an agent leaves its runs without one."""

    def rollup_runs(self, objs):
        return set(
            Run.objects.filter(agent__in=[obj.pk for obj in objs if obj.pk]).values_list("pk", flat=True)
        )

    list_display = ["name", "agent_id", "workspace", "mode", "max_input_chars", "max_output_chars"]
    list_filter = ["workspace", "mode"]
    search_fields = ["name", "agent_id"]


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = [
        "session_id",
        "workspace",
        "agent",
        "user_id",
        "run_count",
        "message_count",
        "last_activity_at",
    ]
    list_filter = ["workspace", "has_error"]
    search_fields = ["session_id", "user_id"]
    raw_id_fields = ["agent"]
    list_select_related = ["workspace", "agent"]


@admin.register(Run)
class RunAdmin(OwnRuns, admin.ModelAdmin):
    list_display = [
        "run_id",
        "workspace",
        "agent",
        "workflow",
        "status",
        "started_at",
        "duration_ms",
        "total_tokens",
    ]
    list_filter = ["workspace", "status"]
    search_fields = ["run_id", "invocation_id", "workflow"]
    raw_id_fields = ["session", "agent"]
    list_select_related = ["workspace", "agent"]
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(RunRows, admin.ModelAdmin):
    list_display = ["step_id", "name", "type", "status", "run", "sequence", "duration_ms"]
    list_filter = ["type", "status"]
    search_fields = ["step_id", "name", "run__run_id"]
    raw_id_fields = ["run", "parent"]
    list_select_related = ["run"]
    show_full_result_count = False


@admin.register(ModelCall)
class ModelCallAdmin(RunRows, admin.ModelAdmin):
    list_display = [
        "call_id",
        "model",
        "provider",
        "total_tokens",
        "latency_ms",
        "cost",
        "status",
        "created_at",
    ]
    list_filter = ["status", "provider"]
    search_fields = ["call_id", "model", "run__run_id"]
    raw_id_fields = ["run", "task"]
    show_full_result_count = False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["session", "sequence", "role", "run", "created_at"]
    list_filter = ["role"]
    search_fields = ["session__session_id"]
    raw_id_fields = ["session", "run"]
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "run", "step_id", "timestamp", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id", "run__run_id"]
    raw_id_fields = ["run"]
    show_full_result_count = False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "model_pattern",
        "workspace",
        "input_per_million",
        "output_per_million",
        "cached_per_million",
        "effective_from",
    ]
    list_filter = ["workspace"]


@admin.register(RedactionRule)
class RedactionRuleAdmin(admin.ModelAdmin):
    list_display = ["pattern", "kind", "replacement", "workspace", "enabled"]
    list_filter = ["workspace", "kind", "enabled"]


class ReviewActivityInline(admin.TabularInline):
    model = ReviewActivity
    extra = 0
    readonly_fields = ["actor", "action", "changes", "created_at"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["run", "rating", "priority", "status", "reviewed_by", "created_at"]
    list_filter = ["workspace", "status", "rating", "priority"]
    raw_id_fields = ["run", "target_message", "assignee"]
    inlines = [ReviewActivityInline]
