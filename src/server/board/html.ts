/**
 * Server-rendered HTML for the web board: a tagged template that escapes every interpolated
 * value (only `raw(...)` and nested `html` results pass through), the page layout with its
 * stylesheet, and the few lines of JavaScript that refresh a page when the server says
 * operations changed (server-sent events). No build step, no framework.
 */

import { createHash } from 'node:crypto';

const SAFE = Symbol('safe-html');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

export function raw(text: string): SafeHtml {
  return { [SAFE]: true, text };
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as { [SAFE]?: boolean })[SAFE] === true;
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

type Value = string | number | boolean | null | undefined | SafeHtml | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (isSafe(v)) return v.text;
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return raw(out);
}

/** An http(s) link, or the label alone when the URL is not one (never a javascript: URL). */
export function link(url: string | null | undefined, label: Value): SafeHtml {
  return url && /^(https?:\/\/[^\s<>"']+|\/(?![/\\])[^\s<>"']*)$/.test(url)
    ? html`<a href="${url}">${label}</a>`
    : html`${label}`;
}

export function fillTemplate(template: string | undefined, values: Record<string, string>): string | null {
  if (!template) return null;
  let url = template;
  for (const [k, v] of Object.entries(values))
    url = url.replaceAll(`{${k}}`, encodeURIComponent(v).replace(/%2F/g, '/'));
  return /^https?:\/\/[^\s<>"']+$/.test(url) ? url : null;
}

const STYLE = `
:root { color-scheme: light dark; --bg:#ffffff; --fg:#1a1a1a; --muted:#4d4d4d; --line:#c8c8c8; --accent:#0b57d0;
  --ok:#0a6b2d; --bad:#b3261e; --warn:#7a4b00; --chip:#eef1f5; }
@media (prefers-color-scheme: dark) { :root { --bg:#121212; --fg:#f0f0f0; --muted:#c4c4c4; --line:#444; --accent:#8ab4f8;
  --ok:#7fd69a; --bad:#f2a49e; --warn:#f3c877; --chip:#24272c; } }
* { box-sizing: border-box; }
body { margin:0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible
  { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position:absolute; left:-999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; }
header.top { display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; align-items:center; padding:.6rem 1rem; border-bottom:1px solid var(--line); }
header.top .brand { font-weight:700; margin-right:auto; }
header.top nav ul { display:flex; flex-wrap:wrap; gap:.25rem 1rem; list-style:none; margin:0; padding:0; }
header.top nav a[aria-current="page"] { font-weight:700; text-decoration-thickness: 3px; }
main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; } tbody tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
.chip { display:inline-block; padding: 0 .45rem; border-radius: 999px; background: var(--chip); font-size: .85rem; white-space: nowrap; }
.s-succeeded, .s-healthy { color: var(--ok); } .s-failed, .s-rejected, .s-expired, .s-cancelled, .s-drifted { color: var(--bad); }
.s-awaiting-approval, .s-progressing, .s-applying, .s-verifying, .s-approved, .s-applied { color: var(--warn); }
.cell .version { font-weight: 600; } .cell div { margin: .1rem 0; }
form.filters { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:flex-end; margin: 0 0 1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.9rem; gap:.2rem; }
input, select, button { font: inherit; padding: .35rem .5rem; border:1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); min-height: 2.5rem; }
button { cursor: pointer; }
ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
ol.timeline li { padding: .2rem 0 .6rem .8rem; }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:.3rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.live { font-size: .85rem; }
@media (max-width: 40rem) {
  main { padding: .75rem; }
  table.stack thead { position:absolute; left:-9999px; }
  table.stack tr { display:block; border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table.stack td { display:flex; gap:.75rem; border: 0; padding: .2rem .6rem; overflow-wrap: anywhere; }
  table.stack td > * { min-width: 0; }
  table.stack td::before { content: attr(data-label); font-weight: 600; width: 7.5rem; flex: none; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: .4rem; }
}
`;

/**
 * Live refresh: the page subscribes to /events; on "change" it fetches itself again and swaps
 * its <main> (focus and scroll stay), and a polite live region says it was updated.
 */
const SCRIPT = `
(() => {
  if (!('EventSource' in window)) return;
  const status = document.getElementById('live-status');
  let busy = false, again = false, later = null;
  // Someone is filling in a filter: do not replace what they typed; look again shortly.
  function editing() {
    return [...document.querySelectorAll('main form')].some((f) => f.contains(document.activeElement) ||
      [...f.elements].some((e) => e.tagName === 'SELECT'
        ? [...e.options].some((o) => o.selected !== o.defaultSelected)
        : 'defaultValue' in e && e.value !== e.defaultValue));
  }
  async function refresh() {
    if (busy) { again = true; return; }
    if (editing()) {
      document.documentElement.dataset.deferred = 'yes';
      clearTimeout(later); later = setTimeout(refresh, 2000); return;
    }
    busy = true;
    try {
      const res = await fetch(location.href, { credentials: 'same-origin' });
      if (res.ok) {
        const text = await res.text();
        const doc = new DOMParser().parseFromString(text, 'text/html');
        const next = doc.querySelector('main');
        const main = document.querySelector('main');
        if (next && main && next.innerHTML !== main.innerHTML) {
          const active = document.activeElement && document.activeElement.id;
          main.innerHTML = next.innerHTML;
          if (active) document.getElementById(active)?.focus();
          if (status) status.textContent = 'Updated ' + new Date().toLocaleTimeString();
        }
      }
    } finally { busy = false; if (again) { again = false; refresh(); } }
  }
  const source = new EventSource('/events');
  source.addEventListener('change', refresh);
  source.addEventListener('open', () => { document.documentElement.dataset.live = 'on'; });
})();
`;

export interface LayoutOptions {
  title: string;
  /** The nav entry of this page. */
  current?: 'matrix' | 'history' | 'audit' | 'journals' | null;
  /** Who is signed in (null: the board is open, nobody signs in). */
  viewer?: { label: string } | null;
  /** Subscribe to live refresh. */
  live?: boolean;
}

const NAV: { key: NonNullable<LayoutOptions['current']>; href: string; label: string }[] = [
  { key: 'matrix', href: '/', label: 'Environments' },
  { key: 'history', href: '/history', label: 'History' },
  { key: 'audit', href: '/audit', label: 'Audit log' },
  { key: 'journals', href: '/journals', label: 'Journals' },
];

export function page(options: LayoutOptions, body: SafeHtml): string {
  const nav = options.current !== null;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${options.title} · Conveyor</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top">
  <span class="brand">Conveyor</span>
  ${
    nav
      ? html`<nav aria-label="Board"><ul>${NAV.map(
          (n) =>
            html`<li><a href="${n.href}"${raw(n.key === options.current ? ' aria-current="page"' : '')}>${n.label}</a></li>`,
        )}</ul></nav>`
      : ''
  }
  ${
    options.viewer
      ? html`<span class="muted">${options.viewer.label}</span>
  <form method="post" action="/logout"><button type="submit">Sign out</button></form>`
      : ''
  }
  ${options.live ? html`<span id="live-status" class="live muted" role="status" aria-live="polite"></span>` : ''}
</header>
<main id="content" tabindex="-1">
${body}
</main>
${options.live ? html`<script>${raw(SCRIPT)}</script>` : ''}
</body>
</html>`.text;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The board's Content-Security-Policy: its own inline style and script only, nothing fetched elsewhere. */
export const BOARD_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');
