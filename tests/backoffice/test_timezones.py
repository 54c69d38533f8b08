"""Pages show times in the zone the viewer's browser reports (the `tz` cookie), UTC on hover."""

from datetime import UTC
from zoneinfo import ZoneInfo

from django.utils import timezone

from tests.factories import make_run
from tests.traces.drilldown import DrilldownTestCase


class ViewerTimezoneTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.started = timezone.now().replace(microsecond=0)
        make_run(cls.workspace, run_id="run-tz", started_at=cls.started)

    def page(self, zone=None):
        self.as_("viewer")
        if zone is not None:
            self.client.cookies["tz"] = zone
        return self.client.get(self.url("runs/run-tz/"))

    def test_times_show_in_the_browsers_zone_with_utc_on_hover(self):
        response = self.page("Asia/Tokyo")
        local = self.started.astimezone(ZoneInfo("Asia/Tokyo"))
        self.assertContains(response, f">{local:%b} {local.day}, {local:%H:%M:%S}</time>")
        self.assertContains(response, f'title="{self.started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"')

    def test_without_a_zone_times_are_utc(self):
        utc = self.started.astimezone(UTC)
        self.assertContains(self.page(), f">{utc:%b} {utc.day}, {utc:%H:%M:%S}</time>")

    def test_a_zone_that_is_not_one_is_ignored(self):
        for bad in ("Not/AZone", "../../etc/passwd", "x" * 300, "UTC\x00"):
            with self.subTest(bad=bad):
                response = self.page(bad)
                self.assertEqual(response.status_code, 200)
