"""The benchmark at a tiny scale, so it cannot rot: the table is printed, the figures are not judged."""

import io

from django.test import TestCase

from backoffice.models import Workspace
from tests.bench.__main__ import parse, run
from tests.bench.dataset import FULL
from tests.bench.scores import CARD_NAME, SCORE_NAME
from traces.rollups.daily import differences

SMOKE = [
    "--scale",
    "0.00005",
    "--events",
    "2000",
    "--spans",
    "200",
    "--repeats",
    "1",
    "--no-server",
    "--quiet",
]


class BenchSmokeTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.out = io.StringIO()
        cls.figures = run(parse(SMOKE), cls.out)
        cls.text = cls.out.getvalue()

    def test_it_builds_a_data_set_of_every_kind_of_row(self):
        self.assertIn("Data set: scale 5e-05", self.text)
        for kind in FULL:
            self.assertRegex(self.text, rf"[1-9][\d,]* {kind}")

    def test_the_daily_rollups_hold_the_data_set_and_what_was_ingested(self):
        for workspace in Workspace.objects.all():
            self.assertEqual(differences(workspace), [], workspace.slug)

    def test_it_prints_one_table_with_every_figure(self):
        self.assertIn("| Figure", self.text)
        for figure in self.figures:
            self.assertIn(figure.name, self.text)
            self.assertIn(figure.result, ("pass", "MISS", "not measured"))

    def test_it_measures_ingest_and_the_tasks_api(self):
        measured = {f.name.split(",")[0].split(" (")[0]: f for f in self.figures if f.ok is not None}
        self.assertIn("Ingest", measured)
        self.assertIn("GET /api/v1/runs/…/tasks?limit=1000", measured)
        self.assertIn("ms", measured["GET /api/v1/runs/…/tasks?limit=1000"].measured)

    def test_it_scores_runs_through_the_api_and_reads_a_scores_card(self):
        measured = {f.name: f for f in self.figures if f.ok is not None}
        self.assertIn("scores/s", measured[SCORE_NAME].measured)
        self.assertIn("ms", measured[CARD_NAME].measured)

    def test_it_times_the_budget_check(self):
        (check,) = [f for f in self.figures if f.name.startswith("GET /api/v1/budgets/check")]
        self.assertIn("ms", check.measured)

    def test_a_second_run_reuses_the_data_set(self):
        out = io.StringIO()
        run(parse([*SMOKE, "--skip-ingest"]), out)
        self.assertIn("reused", out.getvalue())
