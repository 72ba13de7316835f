"""The one HTML renderer (:mod:`mllab.report.html`): text escaped once, markup kept, classes."""

from __future__ import annotations

from mllab.report.html import Cell, Markup, bullets, element, link, page, render, table


def test_text_is_escaped_and_markup_is_inserted_as_it_is():
    assert render("<b> & 'x'") == "&lt;b&gt; &amp; 'x'"  # quotes matter in attributes only
    assert render(Markup("<b>ok</b>")) == "<b>ok</b>"
    assert render(3) == "3"
    assert element("pre", "a<b").html == "<pre>a&lt;b</pre>"
    # a link inside a cell is escaped once, where it was made
    assert element("td", link("x'?a=1&b=2", "<lab>")).html == (
        "<td><a href='x&#x27;?a=1&amp;b=2'>&lt;lab&gt;</a></td>"
    )
    assert bullets(["a", Markup("<i>b</i>")]).html == "<ul><li>a</li><li><i>b</i></li></ul>"


def test_table_has_a_header_row_and_row_and_cell_classes():
    markup = table(["id", "points"], [["C1", Cell("2 / 2", "full")], ["<C2>", 0]], ["holds", ""])
    assert markup.html == (
        "<table><tr><th>id</th><th>points</th></tr>"
        "<tr class='holds'><td>C1</td><td class='full'>2 / 2</td></tr>"
        "<tr><td>&lt;C2&gt;</td><td>0</td></tr></table>"
    )
    assert table(["a"], []).html == "<table><tr><th>a</th></tr></table>"


def test_page_titles_and_heads_the_body_with_one_style_sheet():
    html = page("Grades <ann>", element("p", "hi"), "and <text>")
    assert html.startswith("<!doctype html><html><head><meta charset='utf-8'>")
    assert html.count("<title>Grades &lt;ann&gt;</title>") == 1
    assert "<h1>Grades &lt;ann&gt;</h1><p>hi</p>and &lt;text&gt;</body></html>" in html
    assert html.count("<style>") == 1 and "td.zero" in html and ".holds" in html
