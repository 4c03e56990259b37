/** The board's HTML template: every interpolated value is escaped; links are http(s) or local paths only. */
import { describe, expect, it } from 'vitest';
import { html, link, page, raw } from '../../src/server/board/html.js';

describe('board HTML', () => {
  it('escapes every interpolated value, nested templates and raw() pass through', () => {
    const evil = `<script>alert("x")</script>&'`;
    expect(html`<p>${evil}</p>`.text).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>');
    expect(html`<a title="${'" onmouseover="x'}">`.text).toBe('<a title="&quot; onmouseover=&quot;x">');
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>');
    expect(html`${raw('<br>')}${null}${undefined}${false}${0}`.text).toBe('<br>0');
  });

  it('links only to http(s) URLs and local paths; anything else is shown as text', () => {
    expect(link('https://git.example.com/c/1', 'c').text).toBe('<a href="https://git.example.com/c/1">c</a>');
    expect(link('/ops/op_12345678', 'op').text).toBe('<a href="/ops/op_12345678">op</a>');
    expect(link('javascript:alert(1)', 'x').text).toBe('x');
    expect(link('//evil.example.com', 'x').text).toBe('x');
    expect(link(null, '<b>').text).toBe('&lt;b&gt;');
  });

  it('a page has a language, a title, a skip link and the live script only when asked', () => {
    const text = page({ title: '<t>', live: false }, html`<h1>x</h1>`);
    expect(text).toContain('<html lang="en">');
    expect(text).toContain('<title>&lt;t&gt; · Conveyor</title>');
    expect(text).toContain('<a class="skip" href="#content">Skip to content</a>');
    expect(text).not.toContain('<script>');
    expect(page({ title: 't', live: true }, html``)).toContain("new EventSource('/events')");
  });
});
