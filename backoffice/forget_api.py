"""POST /api/v1/end-users/{user_id}/forget: forget an end user (a key with the admin scope)."""

from django.http import Http404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import problems

from .forget import Forget, forget

router = Router(tags=["end users"], auth=AdminKeyAuth())

MAX_USER_ID = 200  # the length of runs.user_id and sessions.user_id


class ForgetOptions(Schema):
    dry_run: bool = Field(False, description="Only count what would go; delete nothing, record nothing.")


class ForgetOut(Schema):
    dry_run: bool
    removed: dict[str, int] = Field(
        description="Rows per kind: model calls, events, tasks, reviews, scores, business events, "
        "messages, runs, conversations (search documents go with their rows).",
        examples=[{"runs": 3, "messages": 12, "conversations": 1}],
    )


@router.post(
    "/end-users/{user_id}/forget",
    response={200: ForgetOut, **problems()},
    summary="Forget an end user: delete everything the workspace holds about them",
)
def end_user_forget(request, user_id: str, options: Query[ForgetOptions]):
    """Deletes the end user's conversations, their runs (and every run of those conversations) with
    tasks, model calls, events, reviews and scores, their chat messages, and business events of those
    conversations or runs or whose `user_id` property is theirs. Dashboards and cards stay exact. The
    audit log records who asked, when and the counts, with a keyed hash of the user id, never the id.
    An id nothing is known about in the key's workspace answers 404, like an id of another workspace."""
    if not user_id.strip() or len(user_id) > MAX_USER_ID:
        detail = f"user_id: must be 1 to {MAX_USER_ID} characters, not only spaces"
        return Status(422, {"detail": detail, "field": "user_id"})
    counts = Forget(workspace=request.workspace, user_id=user_id).estimate()
    if not any(counts.values()):
        raise Http404
    if options.dry_run:
        return {"dry_run": True, "removed": counts}
    return {"dry_run": False, "removed": forget(request.workspace, user_id, request=request)}
