from django.test import SimpleTestCase

from traces.json_html import CUT, json_html


class JsonHtmlTest(SimpleTestCase):
    def test_it_colours_each_kind_of_value_and_escapes_strings_and_keys(self):
        html, cut = json_html({"<k>": ["<script>", 1, 2.5, True, None]}, "v")
        self.assertFalse(cut)
        self.assertIn('<span class="j-key">"&lt;k&gt;"</span>', html)
        self.assertIn('<span class="j-str">"&lt;script&gt;"</span>', html)
        self.assertIn('<span class="j-num">1</span>', html)
        self.assertIn('<span class="j-bool">true</span>', html)
        self.assertIn('<span class="j-null">null</span>', html)
        self.assertNotIn("<script>", html)

    def test_it_folds_deep_levels_and_keys_each_fold_for_the_page(self):
        html, _ = json_html({"a": {"b": {"c": 1}}}, "state")
        self.assertIn('data-key="json:state" open', html)
        self.assertIn('data-key="json:state.a" open', html)
        self.assertIn('data-key="json:state.a.b">', html)

    def test_it_cuts_long_strings_long_lists_and_large_documents_unless_asked_for_all(self):
        value = {"text": "x" * (CUT.chars + 10), "items": list(range(CUT.items + 5))}
        html, cut = json_html(value, "v")
        self.assertTrue(cut)
        self.assertIn("+10 chars", html)
        self.assertIn("… 5 more", html)
        full, cut = json_html(value, "v", full=True)
        self.assertFalse(cut)
        self.assertIn("x" * (CUT.chars + 10), full)
        _, cut = json_html([{"k": i} for i in range(CUT.nodes)], "v")
        self.assertTrue(cut)
