"""The payload viewer: text and markdown in the JSON tree, chat messages as bubbles, raw JSON to copy."""

import json
from html.parser import HTMLParser

from django.test import SimpleTestCase

from tests.factories import make_model_call, make_run, make_task
from tests.traces.drilldown import DrilldownTestCase
from traces.chat_content import payload_messages
from traces.json_html import json_html
from traces.markdown_text import looks_like_markdown, render

HOSTILE = """# Report

<script>alert(1)</script>
<img src=x onerror=alert(2)>
[click](javascript:alert(3)) [also](JAVASCRIPT:alert(4)) [data](data:text/html;base64,PHNjcmlwdD4=)
<a href="javascript:alert(5)">raw link</a> ![pic](https://example.com/a.png)
[fine](https://example.com/docs)
"""


class Markup(HTMLParser):
    """The elements and attributes a browser would build from some HTML."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.attributes = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)


class MarkdownTest(SimpleTestCase):
    def test_scripts_event_handlers_and_script_urls_never_become_markup(self):
        html = render(HOSTILE)
        markup = Markup(html)
        self.assertIn("h1", markup.tags)
        self.assertFalse({"script", "img", "iframe"} & set(markup.tags))
        self.assertEqual([name for name, _ in markup.attributes if name.startswith("on")], [])
        hrefs = [value for name, value in markup.attributes if name == "href"]
        self.assertEqual(hrefs, ["https://example.com/a.png", "https://example.com/docs"])
        self.assertIn(
            '<a href="https://example.com/docs" rel="noopener noreferrer nofollow" target="_blank">', html
        )
        # What was markup in the text shows as text.
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)

    def test_only_text_with_markdown_marks_counts_as_markdown(self):
        self.assertTrue(looks_like_markdown("Steps to follow:\n\n1. check\n2. refund"))
        self.assertTrue(looks_like_markdown("The answer is **yes**, see\nthe policy above."))
        self.assertFalse(looks_like_markdown("Dear customer,\nyour parcel is on its way."))
        self.assertFalse(looks_like_markdown("# not a heading when on one line"))


class PayloadTextTest(SimpleTestCase):
    def test_markdown_strings_are_rendered_and_multiline_strings_kept_as_text(self):
        html, _ = json_html({"answer": HOSTILE, "note": "line one\nline <two>"}, "v")
        self.assertIn('<div class="j-md"><h1>Report</h1>', html)
        self.assertNotIn("<script", html)
        self.assertIn('<span class="j-str j-text">line one\nline &lt;two&gt;</span>', html)

    def test_a_cut_markdown_string_still_says_how_much_was_cut(self):
        html, cut = json_html("# Title\n\n" + "word " * 200, "v")
        self.assertTrue(cut)
        self.assertIn('<div class="j-md"><h1>Title</h1>', html)
        self.assertIn("chars</span>", html)


class PayloadMessagesTest(SimpleTestCase):
    def test_a_message_list_or_a_request_with_messages_becomes_bubbles(self):
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "human", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "Hello", "name": "bot"},
            {"role": "critic", "content": "ok"},
        ]
        for value in (messages, {"model": "gpt-4o", "messages": messages}):
            shown = payload_messages(value, "request-7")
            self.assertEqual([m.role for m in shown], ["system", "user", "assistant", "custom"])
            self.assertEqual(shown[1].content, "Hi\n\nthere")
            self.assertEqual(shown[2].metadata, {"name": "bot"})
            self.assertEqual(shown[3].metadata, {"role": "critic"})
            self.assertEqual(shown[0].pk, "request-7-0")

    def test_other_payloads_have_no_messages(self):
        for value in ({"role": "user"}, [{"role": "user"}], [1, 2], "text", None, {"messages": []}):
            self.assertEqual(payload_messages(value, "v"), [])

    def test_long_message_texts_are_cut_unless_shown_in_full(self):
        value = [{"role": "user", "content": "x" * 9000}]
        self.assertEqual(len(payload_messages(value, "v")[0].content), 5001)
        self.assertEqual(len(payload_messages(value, "v", full=True)[0].content), 9000)


class PayloadViewerPageTest(DrilldownTestCase):
    def test_a_task_page_shows_each_payload_in_the_viewer_with_its_raw_json_and_chat(self):
        run = make_run(self.workspace, run_id="pv")
        task = make_task(run, step_id="llm", input={"q": "<b>"}, output="Done:\n\n- refunded\n- emailed")
        request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Refund <please>"}]}
        call = make_model_call(run, task=task, request=request, response={"content": "ok"})
        self.as_("viewer")
        response = self.client.get(self.url("runs/pv/tasks/llm/"))
        self.assertContains(
            response, '<div class="payload-viewer" id="json-input" data-payload data-label="input">'
        )
        self.assertContains(response, "{\n  &quot;q&quot;: &quot;&lt;b&gt;&quot;\n}</pre>")
        self.assertContains(response, '<div class="j-md"><p>Done:</p>\n<ul>\n<li>refunded</li>')
        self.assertContains(response, f'id="json-request-{call.pk}"')
        self.assertContains(response, '<div class="payload-chat bubbles" data-view="chat"')
        self.assertContains(response, '<article class="bubble user"')
        self.assertContains(response, "Refund &lt;please&gt;")
        raw = json.dumps(request, indent=2).replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
        self.assertContains(response, raw)
