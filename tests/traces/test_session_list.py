from datetime import timedelta

from django.utils import timezone

from tests.factories import make_agent, make_message, make_run, make_session
from tests.traces.drilldown import HX, DrilldownTestCase, hx


class SessionListTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent = make_agent(cls.workspace, agent_id="support-bot", name="Support bot")
        now = timezone.now()
        cls.refund = make_session(
            cls.workspace,
            session_id="conv-refund",
            agent=cls.agent,
            user_id="customer-17",
            last_user_text="Can I get a refund?",
            last_assistant_text="Yes, it is on its way.",
            last_activity_at=now - timedelta(minutes=1),
            run_count=1,
            total_tokens=1234,
        )
        make_message(cls.refund, content="Can I get a refund for order #4400?")
        make_message(
            cls.refund, role="assistant", content={"type": "text", "text": "Yes, the café refunds it."}
        )
        cls.broken = make_session(
            cls.workspace,
            session_id="conv-broken",
            has_error=True,
            user_id="customer-9",
            last_user_text="<script>alert(1)</script>",
            last_activity_at=now - timedelta(minutes=2),
        )
        make_message(cls.broken, content="My order never came")
        make_session(cls.cast["other_workspace"], session_id="conv-elsewhere")

    def test_it_lists_conversations_latest_first_with_previews(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/"))
        self.assert_full_page(response)
        body = response.content.decode()
        self.assertLess(body.index("conv-refund"), body.index("conv-broken"))
        self.assertContains(response, "Yes, it is on its way.")
        self.assertContains(response, "Support bot")
        self.assertContains(response, "1,234")
        self.assertNotContains(response, "conv-elsewhere")

    def test_it_escapes_previews(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/"))
        self.assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
        self.assertNotContains(response, "<script>alert(1)")

    def test_it_marks_conversations_with_a_failed_run(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/"))
        self.assertContains(response, '<span class="badge failed">Failed run</span>', count=1)

    def test_it_filters_by_agent_user_and_errors(self):
        self.as_("viewer")
        by_agent = self.client.get(self.url("conversations/?agent=support-bot"))
        self.assertContains(by_agent, "conv-refund")
        self.assertNotContains(by_agent, "conv-broken")
        by_user = self.client.get(self.url("conversations/?user=customer-9"))
        self.assertContains(by_user, "conv-broken")
        self.assertNotContains(by_user, "conv-refund")
        failed = self.client.get(self.url("conversations/?error=on"))
        self.assertContains(failed, "conv-broken")
        self.assertNotContains(failed, "conv-refund")

    def test_it_filters_by_date_range(self):
        self.as_("viewer")
        today = timezone.now().date()
        self.assertContains(
            self.client.get(self.url(f"conversations/?since={today}&until={today}")), "conv-refund"
        )
        past = today - timedelta(days=3)
        self.assertNotContains(self.client.get(self.url(f"conversations/?until={past}")), "conv-refund")

    def test_it_searches_message_content(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/?q=ORDER+%234400"))
        self.assertContains(response, "conv-refund")
        self.assertNotContains(response, "conv-broken")
        self.assertContains(response, "Searched the messages of 2 conversations")

    def test_it_finds_words_with_accents_inside_structured_content(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/?q=café"))
        self.assertContains(response, "conv-refund")
        self.assertNotContains(response, "conv-broken")

    def test_it_answers_a_filter_change_with_the_rows_fragment(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/?user=customer-9"), headers=hx("rows"))
        self.assert_fragment(response)
        self.assertContains(response, 'id="rows"')
        self.assertContains(response, "conv-broken")

    def test_it_renders_the_whole_page_for_a_history_restore(self):
        self.as_("viewer")
        response = self.client.get(
            self.url("conversations/"), headers={**HX, "HX-History-Restore-Request": "true"}
        )
        self.assert_full_page(response)

    def test_it_rejects_a_bad_filter_naming_the_field(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/?since=yesterday&after=x"), headers=HX)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "since", status_code=400)
        self.assertContains(response, "after", status_code=400)

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("conversations/")


class SessionListPagingTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.base = timezone.now()
        for i in range(120):
            make_session(
                cls.workspace, session_id=f"s-{i:03d}", last_activity_at=cls.base - timedelta(minutes=i)
            )

    def test_it_pages_with_keyset_links_older_and_newer(self):
        self.as_("viewer")
        first = self.client.get(self.url("conversations/"))
        self.assertContains(first, "s-049")
        self.assertNotContains(first, "s-050")
        older = first.context["older_url"]
        second = self.client.get(older)
        self.assertContains(second, "s-050")
        self.assertNotContains(second, "s-049")
        newer = self.client.get(second.context["newer_url"])
        self.assertEqual([s.session_id for s in newer.context["page"].rows][:2], ["s-000", "s-001"])

    def test_search_looks_through_a_bounded_window_and_offers_to_go_further(self):
        for i in (3, 110):
            session = self.workspace.sessions.get(session_id=f"s-{i:03d}")
            make_message(session, content="the parcel was damaged")
        with self.settings():
            from traces.views import conversations

            window, conversations.SEARCH_WINDOW = conversations.SEARCH_WINDOW, 100
            try:
                self.as_("viewer")
                first = self.client.get(self.url("conversations/?q=damaged"))
                self.assertContains(first, "s-003")
                self.assertNotContains(first, "s-110")
                second = self.client.get(first.context["older_url"])
                self.assertContains(second, "s-110")
            finally:
                conversations.SEARCH_WINDOW = window


class SessionListQueriesTest(DrilldownTestCase):
    def make_sessions(self, count):
        run_agent = make_agent(self.workspace)
        for i in range(count):
            session = make_session(self.workspace, agent=run_agent, last_user_text=f"hello {i}")
            make_run(self.workspace, session=session, status="running" if i % 2 else "completed")

    def test_it_issues_the_same_queries_for_2_and_200_conversations(self):
        self.as_("viewer")
        for count, q in ((2, ""), (198, "")):
            self.make_sessions(count)
            with self.assertNumQueries(5):
                self.client.get(self.url(f"conversations/{q}"))
        with self.assertNumQueries(6):
            self.client.get(self.url("conversations/?q=hello"))

    def test_it_refreshes_itself_only_while_a_listed_conversation_runs(self):
        self.as_("viewer")
        session = make_session(self.workspace)
        run = make_run(self.workspace, session=session, status="running")
        self.assertContains(self.client.get(self.url("conversations/")), 'hx-trigger="every 5s"')
        run.status = "completed"
        run.save()
        self.assertNotContains(self.client.get(self.url("conversations/"), headers=hx("rows")), "hx-trigger")
