from django.test import TestCase, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_exporter, make_run, make_workspace
from traces.models import ExportItem


@override_settings(METRICS_TOKEN="s3cret")
class ExporterExpositionTests(TestCase):
    def scrape(self):
        return self.client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).content.decode()

    def samples(self):
        """{(name, workspace, exporter): value} of the exporter figures."""
        return {
            (sample.name, sample.labels["workspace"], sample.labels["exporter"]): sample.value
            for family in text_string_to_metric_families(self.scrape())
            if family.name.startswith("backoffice_exporter_")
            for sample in family.samples
        }

    def test_it_shows_each_exporters_backlog_last_success_and_last_error(self):
        workspace = make_workspace(slug="acme")
        succeeded = timezone.now().replace(microsecond=0)
        exporter = make_exporter(workspace, name="collector", last_success_at=succeeded)
        for _ in range(2):
            ExportItem.objects.create(exporter=exporter, run=make_run(workspace))
        self.assertEqual(
            self.samples(),
            {
                ("backoffice_exporter_backlog", "acme", "collector"): 2,
                (
                    "backoffice_exporter_last_success_timestamp_seconds",
                    "acme",
                    "collector",
                ): succeeded.timestamp(),
                ("backoffice_exporter_last_error_timestamp_seconds", "acme", "collector"): 0,
            },
        )

    def test_a_scrape_takes_one_query_for_every_exporter(self):
        make_exporter(make_workspace())
        self.scrape()
        with self.assertNumQueries(17):
            self.scrape()
        for _ in range(5):
            workspace = make_workspace()
            ExportItem.objects.create(exporter=make_exporter(workspace), run=make_run(workspace))
        with self.assertNumQueries(17):
            self.scrape()
