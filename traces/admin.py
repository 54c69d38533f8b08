from django.contrib import admin
from django.db import models, transaction

from backoffice.audit import AuditedAdmin
from backoffice.models import Workspace
from traces.ingest.fold import renumber
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
from .rollups.sessions import refresh_run_totals, refresh_sessions


class KeepsTraceRollups:
    """Changes made here keep the daily trace roll-ups current, as the ingest fold does: under the
    workspace's ingest lock, the runs the change may move lose what they add before it and get it back
    after (traces.rollups.daily). The row roll-ups they feed (run totals, conversation counts) are
    recomputed after the change from what is left (`refresh`), as a retention purge does."""

    def rollup_runs(self, objs):
        """Keys of the runs whose rows (or whose tasks' and model calls' rows) these objects move."""
        raise NotImplementedError

    def refresh(self, runs, before):
        """Recompute the row roll-ups the change may have moved, given every run it touched."""

    def keeping_rollups(self, objs, write):
        with transaction.atomic():
            for workspace in sorted({obj.workspace_id for obj in objs}):
                lock_workspace(Workspace(pk=workspace))
            runs = self.rollup_runs(objs)
            trace_rollups.subtract(trace_rollups.Scope.of(runs=runs))
            before = self.before_write(objs)
            write()
            # A run added here has no rows before; a run moved to another is in both.
            runs |= self.rollup_runs(objs)
            # Run totals feed the daily roll-ups: recomputed before they are added back.
            self.refresh(runs, before)
            trace_rollups.add(trace_rollups.Scope.of(runs=runs))

    def before_write(self, objs):
        """What `refresh` needs to know of the rows as they were stored (gone after a delete)."""
        return None

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
    """Runs: their conversations' counts, tokens, cost and times follow (a deleted run's included)."""

    def rollup_runs(self, objs):
        return {obj.pk for obj in objs if obj.pk}

    def before_write(self, objs):
        stored = Run.objects.filter(pk__in=[obj.pk for obj in objs if obj.pk], session__isnull=False)
        return set(stored.values_list("session", flat=True))

    def refresh(self, runs, sessions):
        now = Run.objects.filter(pk__in=runs, session__isnull=False).values_list("session", flat=True)
        refresh_sessions(sessions | set(now), widen=False)


class RunRows(KeepsTraceRollups):
    """Tasks and model calls: the run they belong to now, and the one they belonged to when stored."""

    def rollup_runs(self, objs):
        stored = self.model.objects.filter(pk__in=[obj.pk for obj in objs if obj.pk]).values_list(
            "run", flat=True
        )
        return {obj.run_id for obj in objs if obj.run_id} | set(stored)

    def refresh(self, runs, tasks):
        """The runs' model-call counts, tokens and cost are the sums of their model calls, as the fold
        makes them; so are the tokens and cost of the tasks the model calls belonged to."""
        refresh_run_totals(runs, tasks or ())


class ModelCallRows(RunRows):
    def before_write(self, objs):
        stored = ModelCall.objects.filter(pk__in=[obj.pk for obj in objs if obj.pk], task__isnull=False)
        return set(stored.values_list("task", flat=True)) | {obj.task_id for obj in objs if obj.task_id}


@admin.register(Agent)
class AgentAdmin(AuditedAdmin, KeepsTraceRollups, admin.ModelAdmin):
    """Deleting an agent leaves its runs without one."""

    audited, audit_name = ("name", "mode", "max_input_chars", "max_output_chars"), "agent"

    def rollup_runs(self, objs):
        return set(
            Run.objects.filter(agent__in=[obj.pk for obj in objs if obj.pk]).values_list("pk", flat=True)
        )

    list_display = ["name", "agent_id", "workspace", "mode", "max_input_chars", "max_output_chars"]
    list_filter = ["workspace", "mode"]
    search_fields = ["name", "agent_id"]
    # A replay webhook typed without a scheme is https, as Settings › Agents reads it.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


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
class ModelCallAdmin(ModelCallRows, admin.ModelAdmin):
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
    """A conversation's message count, preview, times and the places of its turns follow changes."""

    def keeping_sessions(self, objs, write):
        with transaction.atomic():
            stored = ChatMessage.objects.filter(pk__in=[obj.pk for obj in objs if obj.pk])
            sessions = set(stored.values_list("session", flat=True)) | {obj.session_id for obj in objs}
            write()
            renumber("chat_messages", "session_id", "created_at", "event_id", sessions)
            refresh_sessions(sessions, widen=False)

    def save_model(self, request, obj, form, change):
        self.keeping_sessions(
            [obj], lambda: super(ChatMessageAdmin, self).save_model(request, obj, form, change)
        )

    def delete_model(self, request, obj):
        self.keeping_sessions([obj], lambda: super(ChatMessageAdmin, self).delete_model(request, obj))

    def delete_queryset(self, request, queryset):
        self.keeping_sessions(
            list(queryset), lambda: super(ChatMessageAdmin, self).delete_queryset(request, queryset)
        )

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
class ModelPriceAdmin(AuditedAdmin, admin.ModelAdmin):
    audited = (
        "model_pattern",
        "input_per_million",
        "output_per_million",
        "cached_per_million",
        "effective_from",
    )
    audit_name = "price"
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
class RedactionRuleAdmin(AuditedAdmin, admin.ModelAdmin):
    audited, audit_name = ("kind", "pattern", "replacement", "enabled"), "redaction"
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
