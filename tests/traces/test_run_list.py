from datetime import timedelta

from django.utils import timezone

from tests.factories import make_agent, make_run, make_score
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from traces.models import Review


class RunListTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent = make_agent(cls.workspace, agent_id="support-bot", name="Support bot")
        now = timezone.now()
        cls.fast = make_run(
            cls.workspace, run_id="run-fast", agent=cls.agent, duration_ms=800, started_at=now
        )
        cls.slow = make_run(
            cls.workspace,
            run_id="run-slow",
            workflow="billing",
            duration_ms=12_000,
            started_at=now - timedelta(minutes=1),
        )
        cls.failed = make_run(
            cls.workspace,
            run_id="run-failed",
            status="failed",
            error={"message": "boom"},
            started_at=now - timedelta(days=3),
        )
        cls.running = make_run(
            cls.workspace,
            run_id="run-running",
            status="running",
            ended_at=None,
            duration_ms=None,
            started_at=now - timedelta(minutes=2),
        )
        Review.objects.create(workspace=cls.workspace, run=cls.fast, rating="good", comment="Answered well.")
        make_run(cls.cast["other_workspace"], run_id="run-elsewhere")

    def test_it_lists_runs_newest_first_with_status_colour_and_text(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/"))
        self.assert_full_page(response)
        body = response.content.decode()
        self.assertLess(body.index("run-fast"), body.index("run-slow"))
        self.assertContains(response, '<span class="badge failed">Failed</span>', html=True)
        self.assertContains(response, '<span class="badge running">Running</span>', html=True)
        self.assertContains(response, "12.00 s")
        self.assertContains(response, '<span class="badge good">Good</span>', html=True)
        self.assertNotContains(response, "run-elsewhere")

    def test_it_filters_on_agent_workflow_status_duration_errors_and_dates(self):
        self.as_("viewer")
        cases = {
            "agent=support-bot": {"run-fast"},
            "workflow=billing": {"run-slow"},
            "status=failed": {"run-failed"},
            "min_duration=10": {"run-slow"},
            "error=on": {"run-failed"},
            f"until={(timezone.now() - timedelta(days=2)).date()}": {"run-failed"},
        }
        for query, expected in cases.items():
            with self.subTest(query):
                rows = self.client.get(self.url(f"runs/?{query}")).context["page"].rows
                self.assertEqual({run.run_id for run in rows}, expected)

    def test_it_answers_htmx_with_the_rows_and_keeps_refreshing_while_a_run_runs(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/"), headers=hx("rows"))
        self.assert_fragment(response)
        self.assertContains(response, 'hx-trigger="every 5s"')
        finished = self.client.get(self.url("runs/?status=completed"), headers=hx("rows"))
        self.assertNotContains(finished, "hx-trigger")

    def test_it_rejects_bad_filters_with_a_400_naming_them(self):
        self.as_("viewer")
        for query, field in (
            ("status=exploded", "status"),
            ("min_duration=-1", "min_duration"),
            ("after=1", "after"),
        ):
            response = self.client.get(self.url(f"runs/?{query}"), headers=HX)
            self.assertContains(response, field, status_code=400)

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("runs/")


class RunListQueriesTest(DrilldownTestCase):
    def test_it_issues_the_same_queries_for_2_and_200_runs(self):
        self.as_("viewer")
        agent = make_agent(self.workspace)
        for count in (2, 198):
            for i in range(count):
                run = make_run(self.workspace, agent=agent, status="running" if i % 3 else "failed")
                if i % 2:
                    Review.objects.create(
                        workspace=self.workspace, run=run, rating="bad", comment="Not helpful."
                    )
                    make_score(run, name="helpfulness", value=i % 5)
            # session, user, memberships, agents, the count of matches, the page, the page's scores
            with self.assertNumQueries(7):
                self.client.get(self.url("runs/"))
            # No run matches these: there are no scores to read.
            with self.assertNumQueries(6):
                self.client.get(self.url("runs/?sort=-cost&tag=a&meta=k%3Dv&model=m&failed_step=s&period=7d"))
            # Without the Scores column, no scores are read.
            with self.assertNumQueries(6):
                self.client.get(self.url("runs/?col=status&col=cost"))

    def test_the_scores_column_shows_each_score_of_the_run(self):
        self.as_("viewer")
        run = make_run(self.workspace)
        make_score(run, name="tone", data_type="categorical", value=0, string_value="ok")
        make_score(run, name="helpfulness", value=4)
        make_score(run, name="helpfulness", value=5)
        response = self.client.get(self.url("runs/"))
        self.assertContains(response, "helpfulness 4/5 · tone ok")

    def test_pages_follow_each_other_without_gaps(self):
        self.as_("viewer")
        now = timezone.now()
        for i in range(120):
            make_run(self.workspace, run_id=f"r-{i:03d}", started_at=now - timedelta(seconds=i // 2))
        seen, url = [], self.url("runs/")
        while url:
            response = self.client.get(url)
            seen += [run.run_id for run in response.context["page"].rows]
            url = response.context["older_url"]
        self.assertEqual(len(seen), 120)
        self.assertEqual(len(set(seen)), 120)


class RunRowsEscapeTest(DrilldownTestCase):
    def test_ids_names_and_workflows_are_escaped_in_text_and_links(self):
        agent = make_agent(self.workspace, agent_id="a<b>", name="Bot <i>ß</i>")
        make_run(self.workspace, run_id='r/<x>&"1"', agent=agent, workflow="w <b>&</b> 漢")
        self.as_("viewer")
        body = self.client.get(self.url("runs/")).content.decode()
        self.assertIn("r/&lt;x&gt;&amp;&#34;1&#34;</a>", body)
        self.assertIn('href="/w/acme/runs/r%2F%3Cx%3E%26%221%22/"', body)
        self.assertIn("Bot &lt;i&gt;ß&lt;/i&gt;", body)
        self.assertIn("w &lt;b&gt;&amp;&lt;/b&gt; 漢</a>", body)
        self.assertNotIn("<b>", body)


class RunRowsLongIdTest(DrilldownTestCase):
    def test_a_long_id_is_shortened_in_the_middle_whole_on_hover_and_copyable(self):
        long_id = "lc-run-" + "0123456789abcdef" * 4 + "-retry-3<"
        make_run(self.workspace, run_id=long_id)
        self.as_("viewer")
        response = self.client.get(self.url("runs/"))
        escaped = long_id.replace("<", "&lt;")
        self.assertContains(
            response,
            f'<span class="mid-id" title="{escaped}"><span class="mid-head">{escaped[:-11]}</span>'
            f'<span class="mid-tail">{escaped[-11:]}</span></span>',
            html=True,
        )
        self.assertContains(response, f'data-copy="{escaped}"')

    def test_a_short_id_is_shown_as_it_is(self):
        make_run(self.workspace, run_id="run-7")
        self.as_("viewer")
        self.assertContains(self.client.get(self.url("runs/")), ">run-7</a>")
