"""Instructors' Markdown as HTML: CommonMark with raw HTML escaped, math left for KaTeX.

Exercise prompts, and a quiz's description, questions, choices and explanations.
"""

from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup, escape


def render_prompt(text: str) -> Markup:
    """Render a prompt's Markdown; each formula becomes a span that KaTeX typesets."""
    md = _parser()
    tokens = md.parse(text)
    # A leading "# Title" repeats the page's own title, which is already its h1.
    if tokens and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        tokens = tokens[3:]
    return Markup(md.renderer.render(tokens, md.options, {}))


def render_markdown(text: str) -> Markup:
    """Render Markdown paragraphs (a quiz's description, an explanation)."""
    md = _parser()
    return Markup(md.render(text))


def render_inline(text: str) -> Markup:
    """Render one line of Markdown without a paragraph around it (a question, a choice)."""
    return Markup(_parser().renderInline(text))


@cache
def _parser() -> MarkdownIt:
    """Build the parser once: CommonMark, HTML off, $...$ and $$...$$ as math."""
    md = MarkdownIt("commonmark", {"html": False})
    # Before "escape", so backslashes inside a formula stay TeX, not Markdown escapes.
    md.inline.ruler.before("escape", "math", _math)
    md.add_render_rule("math_inline", _render_math)
    md.add_render_rule("heading_open", _render_heading)
    md.add_render_rule("heading_close", _render_heading)
    return md


def _math(state: StateInline, silent: bool) -> bool:
    """Read $formula$ or $$formula$$ as one token, untouched by Markdown."""
    if state.src[state.pos] != "$":
        return False
    delimiter = "$$" if state.src.startswith("$$", state.pos) else "$"
    start = state.pos + len(delimiter)
    end = state.src.find(delimiter, start)
    while end > 0 and state.src[end - 1] == "\\":  # \$ is a dollar sign inside the formula
        end = state.src.find(delimiter, end + 1)
    if end == -1 or not state.src[start:end].strip():
        return False
    if not silent:
        token = state.push("math_inline", "", 0)
        token.content = state.src[start:end].strip()
        token.meta = {"display": delimiter == "$$"}
    state.pos = end + len(delimiter)
    return True


def _render_math(self, tokens, idx, options, env) -> str:
    """Write the TeX as escaped text: readable without JavaScript, typeset with it."""
    token = tokens[idx]
    kind = "math-display" if token.meta["display"] else "math-inline"
    return f'<span class="math {kind}">{escape(token.content)}</span>'


def _render_heading(self, tokens, idx, options, env) -> str:
    """Shift headings down one level: the page's own title is the only h1."""
    token = tokens[idx]
    level = min(int(token.tag[1]) + 1, 6)
    return f"<h{level}>" if token.nesting == 1 else f"</h{level}>\n"
