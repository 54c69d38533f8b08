"""Chat content of any shape renders on the Conversation page, the run's Chat tab and the Review pages:
known types natively, anything else as JSON, never an error, always escaped."""

from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.models import Role
from tests.factories import make_member, make_message, make_review, make_run, make_session, make_workspace
from traces.chat_content import shown
from traces.models import ChatMessage

SCRIPT = "<script>alert(1)</script>"
# PostgreSQL's jsonb cannot hold U+0000; surrogates are not text.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
strings = texts | st.just(SCRIPT) | st.sampled_from(["https://example.com/a.png", "javascript:alert(1)", ""])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
)
anything = st.recursive(
    scalars | strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=12,
)
KNOWN_TYPES = [
    "text",
    "markdown",
    "image",
    "buttons",
    "quick_replies",
    "card",
    "file",
    "audio",
    "video",
    "map",
]
FIELDS = [
    "text",
    "url",
    "alt",
    "caption",
    "title",
    "subtitle",
    "items",
    "buttons",
    "options",
    "label",
    "name",
]
typed = st.fixed_dictionaries(
    {"type": st.sampled_from(KNOWN_TYPES)},
    optional={
        name: anything
        | st.lists(strings | st.fixed_dictionaries({"id": strings, "label": strings}), max_size=3)
        for name in FIELDS
    },
)
contents = typed | anything


class ChatContentPagesTest(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.reviewer = make_member(cls.workspace, Role.REVIEWER)
        session = make_session(cls.workspace, session_id="s-1")
        cls.target_run = make_run(cls.workspace, run_id="run-1", session=session)
        cls.turn = make_message(session, run=cls.target_run, role="assistant", content="Hi")
        cls.review = make_review(cls.target_run, target_message=cls.turn)
        cls.pages = [
            "/w/acme/conversations/s-1/",
            "/w/acme/runs/run-1/chat/",
            "/w/acme/runs/run-1/review/",
            f"/w/acme/reviews/{cls.review.pk}/",
        ]

    def render_all(self, content):
        self.client.force_login(self.reviewer)  # each example runs in a transaction of its own
        ChatMessage.objects.filter(pk=self.turn.pk).update(content=content)
        for page in self.pages:
            response = self.client.get(page)
            self.assertEqual(response.status_code, 200, (page, content))
            html = response.content.decode()
            self.assertNotIn(SCRIPT, html)
            self.assertNotIn('src="javascript', html)
            self.assertNotIn('href="javascript', html)
        return html

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(contents)
    def test_any_json_content_renders_escaped_on_every_page(self, content):
        self.render_all(content)

    def test_an_image_with_a_caption_and_no_alt_renders_its_caption(self):
        html = self.render_all({"type": "image", "url": "https://example.com/cat.png", "caption": "A cat"})
        self.assertIn('alt="A cat"', html)
        self.assertIn("<figcaption>A cat</figcaption>", html)

    def test_buttons_with_items_render_their_labels_and_keep_their_ids(self):
        content = {"type": "buttons", "text": "Pick one", "items": [{"id": "b1", "label": "Refund"}, "Later"]}
        html = self.render_all(content)
        self.assertInHTML("<li>Refund</li>", html)
        self.assertInHTML("<li>Later</li>", html)
        self.assertIn("b1", html)  # the id, shown below the row as JSON

    def test_quick_replies_audio_and_card_buttons_render_natively(self):
        html = self.render_all({"type": "quick_replies", "quick_replies": ["Yes", "No"]})
        self.assertIn('class="button-row quick" aria-label="Quick replies"', html)
        html = self.render_all({"type": "audio", "url": "https://example.com/a.mp3", "name": "Voice note"})
        self.assertIn('<audio controls preload="none" src="https://example.com/a.mp3"></audio>', html)
        self.assertIn(">Voice note</a>", html)
        html = self.render_all(
            {"type": "card", "title": "Order 42", "buttons": [{"label": "Track", "id": "t"}]}
        )
        self.assertInHTML("<li>Track</li>", html)

    def test_html_in_payloads_is_escaped_and_javascript_urls_are_refused(self):
        for content in (
            {"type": "card", "title": SCRIPT, "url": "javascript:alert(1)"},
            {"type": "audio", "url": "javascript:alert(1)", "name": SCRIPT},
            {"type": "card", "title": SCRIPT, "buttons": [SCRIPT]},
            {"type": "quick_replies", "options": [SCRIPT]},
        ):
            with self.subTest(content=content):
                html = self.render_all(content)
                self.assertNotIn(SCRIPT, html)
                self.assertNotIn('href="javascript:', html)
                self.assertNotIn('src="javascript:', html)

    def test_the_policy_lets_https_images_and_audio_in_and_nothing_plain_http(self):
        header = self.client.get("/login/")["Content-Security-Policy"]
        # Directives come in no fixed order, so compare them by name.
        directives = dict(
            directive.strip().split(" ", 1) for directive in header.split(";") if directive.strip()
        )
        self.assertEqual(directives["img-src"], "'self' data: https:")
        self.assertEqual(directives["media-src"], "'self' https:")


class ShownTest(TestCase):
    def test_known_shapes_render_natively(self):
        cases = [
            ("Hello", "text"),
            ({"type": "text", "text": "Hi"}, "text"),
            ({"type": "image", "url": "https://x.test/a.png", "alt": "a"}, "image"),
            ({"type": "buttons", "buttons": ["Yes", "No"]}, "buttons"),
            ({"type": "quick_replies", "options": [{"title": "Yes"}]}, "buttons"),
            ({"type": "card", "title": "Order 42", "url": "https://x.test/42"}, "card"),
            ({"type": "audio", "url": "https://x.test/a.mp3"}, "audio"),
            ({"type": "audio", "url": "http://x.test/a.mp3"}, "file"),
            ({"type": "image", "url": "http://x.test/a.png"}, "file"),
            ({"type": "file", "url": "https://x.test/a.pdf", "name": "a.pdf"}, "file"),
            ({"type": "card", "title": "Order 42", "buttons": ["Track", {"label": "Cancel"}]}, "card"),
        ]
        for content, kind in cases:
            with self.subTest(content=content):
                self.assertEqual(shown(content).kind, kind)
                self.assertEqual(shown(content).rest, {})

    def test_odd_shapes_fall_back_to_json(self):
        for content in (
            {"type": "image", "url": "javascript:alert(1)"},
            {"type": "image", "caption": "no url"},
            {"type": "text", "text": 42},
            {"type": "buttons", "items": [1, 2]},
            {"type": "buttons", "items": [{"id": "no label"}]},
            {"type": "card"},
            {"type": "carousel", "cards": []},
            {"no": "type"},
            [1, 2],
            3.5,
        ):
            with self.subTest(content=content):
                self.assertEqual(shown(content).kind, "json")

    def test_fields_a_native_rendering_does_not_show_are_kept_aside(self):
        view = shown({"type": "image", "url": "https://x.test/a.png", "width": 300, "source": "camera"})
        self.assertEqual(view.rest, {"width": 300, "source": "camera"})
        view = shown({"type": "buttons", "items": [{"id": "b1", "label": "Go"}]})
        self.assertEqual(view.rest, {"items": [{"id": "b1"}]})
        view = shown({"type": "card", "title": "T", "image_url": "http://x.test/a.png"})
        self.assertEqual((view.image, view.rest), ("", {"image_url": "http://x.test/a.png"}))
