from tests.factories import make_message, make_run, make_session, make_task
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from tests.traces.scenario import make_conversation
from traces.models import ChatMessage, Session


class SessionDetailTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.run_ids = make_conversation(cls.workspace, "conv-refund", turns=2)
        cls.session = Session.objects.get(session_id="conv-refund")
        rich = make_session(cls.workspace, session_id="conv-rich")
        make_message(rich, role="system", content="You are a support agent.")
        make_message(rich, content="<script>alert('x')</script> <b>hi</b>")
        make_message(
            rich, role="assistant", content={"type": "buttons", "buttons": [{"label": "Refund"}, "Human"]}
        )
        make_message(
            rich,
            role="assistant",
            content={"type": "card", "html": "<img src=x onerror=alert(1)>"},
            metadata={"channel": "web"},
        )
        make_message(
            rich, role="assistant", content={"type": "image", "url": "https://example.com/a.png", "alt": "A"}
        )

    def test_it_shows_the_turns_in_order_as_bubbles(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/conv-refund/"))
        self.assert_full_page(response)
        body = response.content.decode()
        self.assertLess(body.index("Question 1"), body.index("order #4400 is within"))
        self.assertLess(body.index("order #4400 is within"), body.index("Question 2"))
        self.assertEqual(body.count('class="bubble user"'), 2)
        self.assertEqual(body.count('class="bubble assistant"'), 2)

    def test_each_turn_links_to_its_run_in_the_side_panel(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/conv-refund/"))
        self.assertContains(response, f'hx-get="/w/acme/conversations/conv-refund/?run={self.run_ids[0]}"')
        self.assertContains(response, 'hx-target="#run-panel"')

    def test_it_opens_a_run_in_the_side_panel_as_a_fragment(self):
        self.as_("viewer")
        response = self.client.get(
            self.url(f"conversations/conv-refund/?run={self.run_ids[0]}"), headers=hx("run-panel")
        )
        self.assert_fragment(response)
        self.assertContains(response, 'id="run-panel"')
        self.assertContains(response, "search_docs")
        self.assertContains(response, f"/w/acme/runs/{self.run_ids[0]}/")
        self.assertNotContains(response, "Question 1")

    def test_the_panel_also_opens_from_a_plain_link(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"conversations/conv-refund/?run={self.run_ids[1]}"))
        self.assert_full_page(response)
        self.assertContains(response, 'id="run-panel"')
        self.assertContains(response, "Question 1")

    def test_the_panel_refuses_a_run_of_another_conversation(self):
        other = make_run(self.workspace, run_id="not-here")
        self.as_("viewer")
        response = self.client.get(self.url(f"conversations/conv-refund/?run={other.run_id}"))
        self.assertEqual(response.status_code, 404)

    def test_it_renders_structured_content_by_type_and_escapes_everything(self):
        self.as_("viewer")
        response = self.client.get(self.url("conversations/conv-rich/"))
        self.assertContains(response, "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;")
        self.assertNotContains(response, "<script>alert")
        self.assertNotContains(response, "<b>hi</b>")
        self.assertContains(response, 'aria-label="Buttons"><li>Refund</li><li>Human</li></ul>', html=False)
        self.assertContains(response, "&lt;img src=x onerror=alert(1)&gt;")
        self.assertContains(response, '<img src="https://example.com/a.png" alt="A"')
        self.assertContains(response, 'class="bubble system"')
        self.assertContains(response, '<details class="meta"')

    def test_it_shows_the_latest_turns_and_loads_earlier_ones(self):
        session = make_session(self.workspace, session_id="long")
        ChatMessage.objects.bulk_create(
            ChatMessage(
                workspace=self.workspace,
                session=session,
                event_id=f"e{i}",
                sequence=i,
                role="user",
                content=f"turn number {i:03d}",
                created_at=session.started_at,
            )
            for i in range(1, 251)
        )
        self.as_("viewer")
        response = self.client.get(self.url("conversations/long/"))
        self.assertContains(response, "turn number 250")
        self.assertContains(response, "turn number 051")
        self.assertNotContains(response, "turn number 050")
        earlier = self.client.get(response.context["earlier_url"], headers=hx("turns-earlier"))
        self.assert_fragment(earlier)
        self.assertContains(earlier, "turn number 001")
        self.assertContains(earlier, "turn number 050")
        self.assertNotContains(earlier, "turn number 051")

    def test_it_refreshes_turns_only_while_a_run_is_running(self):
        self.as_("viewer")
        self.assertNotContains(self.client.get(self.url("conversations/conv-refund/")), 'id="turns-live"')
        make_conversation(self.workspace, "conv-live", turns=1, running_last=True)
        response = self.client.get(self.url("conversations/conv-live/"))
        self.assertContains(response, 'id="turns-live"')
        poll = self.client.get(self.url("conversations/conv-live/"), headers=hx("turns"))
        self.assert_fragment(poll)
        self.assertContains(poll, 'id="turns"')

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("conversations/conv-refund/")
        self.assert_hidden_from_outsiders(f"conversations/conv-refund/?run={self.run_ids[0]}")

    def test_an_unknown_conversation_is_404(self):
        self.as_("viewer")
        self.assertEqual(self.client.get(self.url("conversations/nope/")).status_code, 404)


class SessionDetailQueriesTest(DrilldownTestCase):
    def make_turns(self, session, count):
        run = make_run(self.workspace, session=session)
        for _ in range(count):
            make_task(run)
        for i in range(count):
            make_message(
                session,
                role="user" if i % 2 else "assistant",
                content=f"turn {i}",
                run=run,
                metadata={"i": i},
            )
        return run

    def test_it_issues_the_same_queries_for_2_and_200_turns(self):
        self.as_("viewer")
        for count in (2, 200):
            session = make_session(self.workspace)
            run = self.make_turns(session, count)
            with self.assertNumQueries(5):
                self.client.get(self.url(f"conversations/{session.session_id}/"))
            with self.assertNumQueries(7):
                self.client.get(self.url(f"conversations/{session.session_id}/?run={run.run_id}"))
            with self.assertNumQueries(6):
                self.client.get(
                    self.url(f"conversations/{session.session_id}/?run={run.run_id}"),
                    headers=HX | hx("run-panel"),
                )
