"""storable_event: the fast check before the walk gives what make_storable gives."""

from django.test import SimpleTestCase

from traces.ingest.policy import make_storable, storable_body, storable_event


class StorableEventTest(SimpleTestCase):
    def test_a_clean_event_is_returned_as_it_is(self):
        raw = {"id": "e1", "body": {"text": "plain <b>html</b> and a \\ backslash", "n": [1, 2.5, None]}}
        self.assertIs(storable_event(raw), raw)

    def test_nul_lone_surrogates_and_emoji_come_out_as_make_storable_makes_them(self):
        for text in ("a\x00b", "lone \ud800 surrogate", "emoji 😀 kept", "a literal \\ud800 is text"):
            raw = {"body": {"content": text, "nested": [{"k": text}]}}
            with self.subTest(text=text):
                self.assertEqual(storable_event(raw), make_storable(raw))
        self.assertEqual(storable_event({"t": "a\x00b"})["t"], "a\ufffdb")
        self.assertEqual(storable_event({"t": "😀"})["t"], "😀")


class StorableBodyTest(SimpleTestCase):
    def test_a_body_is_storable_as_it_is_unless_its_bytes_may_hide_nul_or_a_surrogate(self):
        clean = '{"batch": [{"t": "naïve 日本語 😀 \\u00e9 \\n <b>"}]}'
        self.assertTrue(storable_body(clean.encode()))
        for hidden in ("\\u0000", "\\ud800", "\\uDC00", "\\ud83d\\ude00"):
            with self.subTest(hidden=hidden):
                self.assertFalse(storable_body(clean.replace("<b>", hidden).encode()))
        self.assertFalse(
            storable_body(clean.encode().replace(b"<b>", "\ud800".encode("utf-8", "surrogatepass")))
        )
        self.assertFalse(storable_body(clean.encode("utf-16")))
