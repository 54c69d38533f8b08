"""The profile page: a user picks the time zone pages show times in, over the browser's."""

from datetime import UTC
from zoneinfo import ZoneInfo

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import Profile
from tests.factories import make_run
from tests.traces.drilldown import DrilldownTestCase


class ProfileTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.started = timezone.now().replace(microsecond=0)
        make_run(cls.workspace, run_id="run-tz", started_at=cls.started)

    def shown(self, zone):
        local = self.started.astimezone(ZoneInfo(zone))
        return f">{local:%b} {local.day}, {local:%H:%M:%S}</time>"

    def run_page(self):
        self.client.cookies["tz"] = "Europe/Paris"  # what the browser reports
        return self.client.get(self.url("runs/run-tz/"))

    def test_any_member_opens_their_profile_with_the_browsers_zone_by_default(self):
        self.as_("viewer")
        self.client.cookies["tz"] = "Europe/Paris"
        response = self.client.get(self.url("profile/"))
        self.assertContains(response, "<h1>Profile</h1>")
        self.assertContains(response, '<option value="" selected>The browser&#39;s (Europe/Paris)</option>')
        self.assertContains(response, "in Europe/Paris.")

    def test_a_chosen_zone_wins_over_the_browsers_with_utc_still_on_hover(self):
        self.as_("viewer")
        saved = self.client.post(self.url("profile/"), {"time_zone": "Asia/Tokyo"})
        self.assertRedirects(saved, self.url("profile/"))
        self.assertEqual(Profile.objects.get(user=self.cast["viewer"]).time_zone, "Asia/Tokyo")
        response = self.run_page()
        self.assertContains(response, self.shown("Asia/Tokyo"))
        self.assertContains(response, f'title="{self.started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"')

        self.client.post(self.url("profile/"), {"time_zone": ""})
        self.assertContains(self.run_page(), self.shown("Europe/Paris"))

    def test_the_profiles_zone_holds_from_the_next_log_in(self):
        Profile.objects.create(user=self.cast["viewer"], time_zone="America/Lima")
        self.as_("viewer")
        self.assertContains(self.run_page(), self.shown("America/Lima"))

    def test_the_profiles_zone_costs_no_query_more_per_page(self):
        self.as_("viewer")
        with CaptureQueriesContext(connection) as browser_zone:
            self.run_page()
        Profile.objects.create(user=self.cast["viewer"], time_zone="Asia/Tokyo")
        self.as_("viewer")
        with self.assertNumQueries(len(browser_zone)):
            response = self.run_page()
        self.assertContains(response, self.shown("Asia/Tokyo"))

    def test_a_zone_that_is_not_one_is_a_400_naming_the_field(self):
        self.as_("viewer")
        for bad in ("Not/AZone", "localtime", "x" * 300):
            with self.subTest(bad=bad):
                response = self.client.post(self.url("profile/"), {"time_zone": bad})
                self.assertContains(response, "Select a valid choice", status_code=400)
                self.assertContains(response, 'class="field invalid">Time zone', status_code=400)
        self.assertFalse(Profile.objects.exists())

    def test_saving_needs_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.cast["viewer"])
        self.assertEqual(client.post(self.url("profile/"), {"time_zone": "UTC"}).status_code, 403)

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("profile/")
