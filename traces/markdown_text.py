"""Markdown in payloads (a model's answer, a prompt), rendered safely.

markdown-it-py with raw HTML off: every tag in the text is escaped rather than passed through, and its
link check refuses `javascript:`, `vbscript:`, `file:` and `data:` URLs, so nothing the text says can
run. Images are off too (the page's CSP would block remote ones anyway), and links open in a new tab
without a referrer.
"""

import re

from markdown_it import MarkdownIt

MIN_CHARS = 24
# A line that only markdown starts this way: a heading, a list item, a quote, a fence, a table row.
BLOCK = re.compile(r"^(#{1,6} \S|[-*+] \S|\d{1,3}[.)] \S|> \S|```|\|.*\|\s*$)", re.MULTILINE)
# Inline marks that plain prose rarely has: **bold**, `code`, [a link](http…).
INLINE = re.compile(r"\*\*\S[^*\n]*\*\*|`[^`\n]+`|\[[^\]\n]+\]\(https?://")

renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
renderer.enable("table").disable("image")


def open_link(self, tokens, index, options, env):
    tokens[index].attrSet("rel", "noopener noreferrer nofollow")
    tokens[index].attrSet("target", "_blank")
    return self.renderToken(tokens, index, options, env)


renderer.add_render_rule("link_open", open_link)


def looks_like_markdown(text):
    """Text of several lines with a markdown block, or with inline marks: worth rendering."""
    if len(text) < MIN_CHARS or "\n" not in text:
        return False
    return bool(BLOCK.search(text) or INLINE.search(text))


def render(text):
    """Markdown as HTML that is safe to put in a page as it is."""
    return renderer.render(text)
