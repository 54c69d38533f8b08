"""Which pages keep refreshing themselves, and when they give up.

A region showing something that runs polls the server every few seconds (the templates' `every`
triggers) and morphs the answer into the page, so the reader's selection, scroll and open rows stay.
A run that has not changed for `QUIET_AFTER` is taken for stuck (an agent that died without saying
so): its region stops polling and says since when nothing came, instead of asking forever.
"""

from datetime import timedelta

from django.utils import timezone

from traces.models import RunStatus

# Long enough for a slow model call or a human approval step, short enough that a dead run's page
# stops asking within the quarter hour.
QUIET_AFTER = timedelta(minutes=10)


def live_context(changed_at):
    """The template flags for a region from the last-change times (`Run.updated_at`) of the running
    things it shows: `live` while one of them changed recently, else `quiet_since` (the latest change)
    when some run but all are quiet; neither when nothing runs."""
    changed_at = [at for at in changed_at if at is not None]
    if not changed_at:
        return {"live": False, "quiet_since": None}
    latest = max(changed_at)
    if latest >= timezone.now() - QUIET_AFTER:
        return {"live": True, "quiet_since": None}
    return {"live": False, "quiet_since": latest}


def running_changes(runs):
    """The last-change times of the running runs among `runs` (rows with `status` and `updated_at`)."""
    return [run.updated_at for run in runs if run.status == RunStatus.RUNNING]
