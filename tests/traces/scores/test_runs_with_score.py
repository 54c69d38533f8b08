from django.test import TestCase

from tests.factories import make_run, make_score, make_workspace
from traces.models import Run
from traces.scores.queries import runs_with_score


class RunsWithScoreTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.low = make_run(cls.workspace, run_id="low")
        cls.high = make_run(cls.workspace, run_id="high")
        cls.rude = make_run(cls.workspace, run_id="rude")
        cls.unscored = make_run(cls.workspace, run_id="unscored")
        make_score(cls.low, name="helpfulness", value=2)
        make_score(cls.high, name="helpfulness", value=5)
        make_score(cls.rude, name="tone", data_type="categorical", value=2, string_value="rude")
        make_score(cls.rude, name="hallucination", data_type="boolean", value=1, string_value="true")

    def found(self, *args):
        runs = Run.objects.filter(workspace=self.workspace)
        with self.assertNumQueries(1):
            return sorted(runs_with_score(runs, *args).values_list("run_id", flat=True))

    def test_it_compares_a_numeric_score(self):
        self.assertEqual(self.found("helpfulness", "lt", "3"), ["low"])
        self.assertEqual(self.found("helpfulness", "gte", 2), ["high", "low"])
        self.assertEqual(self.found("helpfulness", "eq", "5"), ["high"])
        self.assertEqual(self.found("helpfulness", "ne", "5"), ["low"])

    def test_it_matches_a_label_or_true_and_false(self):
        self.assertEqual(self.found("tone", "eq", "rude"), ["rude"])
        self.assertEqual(self.found("hallucination", "eq", "True"), ["rude"])
        self.assertEqual(self.found("tone", "eq", "2"), [])  # a categorical score is matched by its label

    def test_a_bad_comparison_is_a_value_error(self):
        runs = Run.objects.all()
        with self.assertRaises(ValueError):
            runs_with_score(runs, "helpfulness", "lt", "many")
        with self.assertRaises(ValueError):
            runs_with_score(runs, "helpfulness", "like", "3")
