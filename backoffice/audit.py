"""The audit log: any app records who changed what with `record(request, action, target, changes)`."""

from .models import AuditEntry


def record(request, action, target="", changes=None, workspace=None):
    """Note a change made by the request's user in request.workspace (or `workspace`). One INSERT.

    `action` is a dotted name (`member.role_changed`, `dashboard.card_deleted`), `target` says what it
    was done to, `changes` maps field names to [before, after] or holds any JSON details.
    """
    user = request.user if request.user.is_authenticated else None
    return AuditEntry.objects.create(
        workspace=workspace or request.workspace,
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        target=str(target)[:300],
        changes=changes or {},
    )


def diff(before, after):
    """{field: [old, new]} for the fields whose value changed, values made JSON-friendly."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if before.get(name) != value
    }


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
