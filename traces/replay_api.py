"""POST /api/v1/runs/{run_id}/replay: send a run to its agent's replay webhook (a key with the admin
scope). What the webhook receives is described in traces.replay and the README."""

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import problems

from .models import Run
from .replay import NoWebhook, send

router = Router(tags=["replay"], auth=AdminKeyAuth())


class ReplayOut(Schema):
    replay_of: str
    webhook_status: int


@router.post(
    "/runs/{run_id}/replay",
    response={202: ReplayOut, **problems(409, 502)},
    summary="Replay a run: send its recorded input, session and metadata to its agent's replay webhook",
)
def run_replay(request, run_id: str):
    """The webhook gets a JSON body (`replay_of`, `agent_id`, `workflow`, `session_id`, `user_id`,
    `input`, `metadata`, `tags`, `requested_by`, `requested_at`) with `X-Backoffice-Timestamp` and
    `X-Backoffice-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the agent's
    secret>`. 202 once the webhook answered 2xx; 409 when the agent has no webhook; 502 when the webhook
    failed, did not answer in time or could not be reached (`detail` says which). The new run links
    back when the agent sends `replay_of` in its run.start."""
    runs = Run.objects.filter(workspace=request.workspace).select_related("agent", "session")
    run = get_object_or_404(runs, run_id=run_id)
    sent, error = send(request, run)
    if error is not None:
        status = 409 if isinstance(error, NoWebhook) else 502
        return Status(status, {"detail": str(error), "field": "run_id" if status == 409 else None})
    return Status(202, {"replay_of": run.run_id, "webhook_status": sent.status})
