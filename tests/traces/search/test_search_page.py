"""The search box on every workspace page, and the results page it opens."""

from datetime import timedelta

from django.utils import timezone

from tests.events import event
from tests.factories import make_review
from tests.traces.drilldown import DrilldownTestCase, hx
from traces.ingest import ingest_batch
from traces.models import ChatMessage, Run


def at(days_ago):
    """Seconds after tests.events.BASE (three days ago) for a time `days_ago` days before now."""
    from tests.events import BASE

    return (timezone.now() - timedelta(days=days_ago) - BASE).total_seconds()


def run_events(run_id, *, days_ago=1, text="Rate limit reached", session_id="s1"):
    t = at(days_ago)
    return [
        event(
            "run.start", {"run_id": run_id, "agent_id": "bot", "session_id": session_id, "input": "hi"}, at=t
        ),
        event("step.start", {"run_id": run_id, "step_id": "plan", "name": "plan", "input": text}, at=t + 1),
        event(
            "llm.call",
            {"run_id": run_id, "step_id": "plan", "call_id": "c1", "model": "m", "response": {"text": text}},
            at=t + 2,
        ),
        event(
            "message",
            {"session_id": session_id, "run_id": run_id, "role": "assistant", "content": text},
            at=t + 3,
        ),
    ]


class SearchPageTests(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        ingest_batch(cls.workspace, run_events("r-recent"))
        ingest_batch(
            cls.workspace, run_events("r-old", days_ago=60, text="Rate limit of the past", session_id="s2")
        )
        ingest_batch(
            cls.workspace,
            [
                event(
                    "run.start",
                    {"run_id": "r-html", "agent_id": "bot", "input": "<b>bold</b> & Nova"},
                    at=at(2),
                )
            ],
        )
        ingest_batch(cls.cast["other_workspace"], run_events("r-theirs", text="Rate limit theirs"))

    def search(self, q, **params):
        return self.client.get(self.url("search/"), {"q": q, **params})

    def test_the_header_of_every_workspace_page_has_the_search_box(self):
        self.as_("viewer")
        for path in ("", "runs/", "conversations/", "model-calls/"):
            with self.subTest(path=path):
                response = self.client.get(self.url(path))
                self.assertContains(response, 'role="search"')
                self.assertContains(response, f'action="/w/{self.workspace.slug}/search/"')

    def test_results_link_to_the_exact_task_model_call_and_turn_newest_first(self):
        self.as_("viewer")
        response = self.search("rate limit")
        self.assert_full_page(response)
        results = response.context["results"]
        self.assertEqual(
            [(r["document"].kind, r["document"].run.run_id) for r in results],
            [("message", "r-recent"), ("call.response", "r-recent"), ("task.input", "r-recent")],
        )
        turn = ChatMessage.objects.get(run__run_id="r-recent")
        self.assertEqual(results[0]["url"], f"/w/acme/runs/r-recent/chat/#turn-{turn.pk}")
        self.assertEqual(results[1]["url"], "/w/acme/runs/r-recent/tasks/plan/")
        self.assertEqual(results[2]["url"], "/w/acme/runs/r-recent/tasks/plan/")
        self.assertContains(response, "<mark>Rate</mark> <mark>limit</mark> reached", html=False)
        self.assertNotContains(response, "theirs")

    def test_the_time_range_widens_to_90_days_and_all(self):
        self.as_("viewer")
        self.assertEqual(len(self.search("past").context["results"]), 0)
        self.assertEqual(len(self.search("past", range="90d").context["results"]), 3)
        self.assertEqual(len(self.search("past", range="all").context["results"]), 3)

    def test_payload_html_is_escaped_in_snippets(self):
        self.as_("viewer")
        response = self.search("nova")
        self.assertContains(response, "&lt;b&gt;bold&lt;/b&gt; &amp; <mark>Nova</mark>", html=False)
        self.assertNotContains(response, "<b>bold</b>", html=False)

    def test_results_are_keyset_paged(self):
        self.as_("viewer")
        ingest_batch(
            self.workspace,
            [
                event(
                    "run.start", {"run_id": f"p{i}", "agent_id": "bot", "input": "pager word"}, at=at(1) + i
                )
                for i in range(55)
            ],
        )
        first = self.search("pager")
        self.assertEqual(len(first.context["results"]), 50)
        older = self.client.get(first.context["older_url"])
        self.assertEqual(len(older.context["results"]), 5)
        seen = {r["document"].run.run_id for r in first.context["results"] + older.context["results"]}
        self.assertEqual(len(seen), 55)
        fragment = self.client.get(first.context["older_url"], headers=hx("results"))
        self.assert_fragment(fragment)

    def test_each_id_kind_jumps_straight_to_it(self):
        self.as_("viewer")
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        ingest_batch(self.workspace, [event("run.start", {"run_id": trace_id, "agent_id": "bot"}, at=at(1))])
        review = make_review(Run.objects.get(workspace=self.workspace, run_id="r-recent"))
        invocation = Run.objects.get(workspace=self.workspace, run_id="r-old").invocation_id
        jumps = {
            "r-recent": "/w/acme/runs/r-recent/",
            trace_id.upper(): f"/w/acme/runs/{trace_id}/",
            "s2": "/w/acme/conversations/s2/",
            str(review.pk): f"/w/acme/reviews/{review.pk}/",
            invocation[:6]: "/w/acme/runs/r-old/",
            f"  {invocation}  ": "/w/acme/runs/r-old/",
        }
        for q, url in jumps.items():
            with self.subTest(q=q):
                self.assertRedirects(self.search(q), url, fetch_redirect_response=False)

    def test_ids_of_another_workspace_do_not_jump(self):
        self.as_("viewer")
        for q in ("r-theirs", "s1x"):
            with self.subTest(q=q):
                self.assertEqual(self.search(q).status_code, 200)

    def test_outsiders_get_404_and_bad_input_a_400_naming_the_field(self):
        self.assert_hidden_from_outsiders("search/?q=rate")
        self.as_("viewer")
        response = self.search("rate", range="forever")
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "range", status_code=400)
        self.assertEqual(self.search("rate", after="nope").status_code, 400)
        self.assertEqual(self.search("x" * 600).status_code, 400)

    def test_a_query_without_words_shows_a_hint(self):
        self.as_("viewer")
        self.assertContains(self.search("?!"), "Nothing to search for")
        self.assertContains(self.search(""), "paste a run")

    def test_the_results_page_costs_the_same_queries_for_few_and_many_results(self):
        self.as_("viewer")
        counts = []
        for size in (2, 20):
            word = f"size{size}"
            for i in range(size):
                ingest_batch(self.workspace, run_events(f"{word}-{i}", text=f"{word} text"))
            response = None
            # Session, workspace and member, the jump probes, the page, the turns and the calls.
            with self.assertNumQueries(9):
                response = self.search(word)
            self.assertEqual(len(response.context["results"]), min(size * 3, 50))
            counts.append(len(response.context["results"]))
            with self.assertNumQueries(0):
                [r["url"] for r in response.context["results"]]
        self.assertEqual(counts, [6, 50])
