/**
 * The portal's look: one small stylesheet built once from the configured primary colour (so
 * nothing inline is needed and the CSP can forbid inline styles), and the pages' CSP.
 *
 * Contrast (WCAG 1.4.3, 1.4.11): text on the primary colour is white or near-black, whichever
 * contrasts more; when even the better one falls under 4.5:1 — or the colour under 3:1 against
 * the white page, where it draws borders and links — the default colour is used instead, so a
 * badly chosen brand colour never makes the portal unreadable.
 */
import type { Brand } from '../config.js';

const DEFAULT_PRIMARY = '#1f4fd1';
const DARK = '#1a1a1a';

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The primary colour and the text colour drawn on it. */
export function palette(primary: string): { primary: string; onPrimary: string } {
  const best = (c: string) => (contrast(c, '#ffffff') >= contrast(c, DARK) ? '#ffffff' : DARK);
  const usable = contrast(primary, '#ffffff') >= 4.5;
  const p = usable ? primary : DEFAULT_PRIMARY;
  return { primary: p, onPrimary: best(p) };
}

export function stylesheet(brand: Brand): string {
  const { primary, onPrimary } = palette(brand.primaryColor);
  return `:root{--primary:${primary};--on-primary:${onPrimary};--text:#1a1a1a;--muted:#4a4a4a;--line:#767676;--bg:#ffffff;--soft:#f3f4f6;--error:#b00020;--ok:#0a6b2f}
*,*::before,*::after{box-sizing:border-box}
html{font-size:100%;-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:var(--text);background:var(--bg)}
a{color:var(--primary);text-underline-offset:.15em}
a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid var(--primary);outline-offset:2px}
.skip{position:absolute;left:.5rem;top:-3rem;background:var(--primary);color:var(--on-primary);padding:.5rem 1rem;z-index:10}
.skip:focus{top:.5rem}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header.top .brand{display:flex;align-items:center;gap:.5rem;font-weight:600;color:var(--text);text-decoration:none}
header.top img{max-height:2rem;width:auto}
header.top nav{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
main{max-width:42rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25;margin:1rem 0}
h2{font-size:1.2rem;margin:0}
footer{width:calc(100% - 2rem);max-width:40rem;margin:2rem auto 0;padding:1rem 0;border-top:1px solid var(--line);font-size:.95rem}
footer ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem}
label{display:block;font-weight:600;margin-top:1rem}
.hint{display:block;color:var(--muted);font-size:.95rem}
input[type=email],input[type=text],input[type=date]{display:block;width:100%;max-width:24rem;font:inherit;padding:.6rem .7rem;border:2px solid var(--line);border-radius:.3rem;margin-top:.25rem;color:var(--text);background:var(--bg)}
input[aria-invalid=true]{border-color:var(--error)}
.field-error{display:block;color:var(--error);font-weight:600;margin-top:.25rem}
button,.button{font:inherit;font-weight:600;min-height:2.75rem;padding:.55rem 1.1rem;border-radius:.3rem;border:2px solid var(--primary);background:var(--primary);color:var(--on-primary);cursor:pointer}
a.button{display:inline-block;text-decoration:none}
button.link{background:none;border:none;color:var(--primary);text-decoration:underline;padding:.25rem 0;min-height:auto;font-weight:400}
form.inline{display:inline}
.actions{margin-top:1rem;display:flex;flex-wrap:wrap;gap:.75rem;align-items:center}
.notice{border-left:4px solid var(--primary);background:var(--soft);padding:.75rem 1rem;margin:1rem 0}
.notice>p:first-child{margin-top:0}
.notice>p:last-child{margin-bottom:0}
.notice.error{border-left-color:var(--error)}
.notice.ok{border-left-color:var(--ok)}
fieldset.purpose{border:1px solid var(--line);border-radius:.4rem;margin:1rem 0;padding:1rem}
fieldset.purpose legend{font-weight:700;font-size:1.1rem;padding:0 .3rem}
fieldset.purpose>p:first-of-type{margin-top:.25rem}
.meta{color:var(--muted);font-size:.95rem}
.choices{display:grid;grid-template-columns:1fr 1fr;gap:.75rem;margin-top:.75rem}
.choices button{width:100%;background:var(--bg);color:var(--primary)}
.choices button[aria-pressed=true]{background:var(--primary);color:var(--on-primary)}
h2{margin-top:1.75rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
.request-kind{border:1px solid var(--line);border-radius:.4rem;margin:1rem 0;padding:1rem}
.request-kind p{margin:.25rem 0 .75rem}
ul.requests{padding-left:1.25rem}
ul.requests li{margin:.5rem 0}
ul.requests .meta{display:block}
ol.steps{padding-left:1.5rem}
ol.steps li{margin:.4rem 0}
.silo{border-left:4px solid var(--line);padding:.25rem 0 .25rem 1rem;margin:1rem 0}
.silo h2{margin-top:0}
pre{white-space:pre-wrap;word-break:break-word;background:var(--soft);padding:1rem}
body.admin main{max-width:72rem;overflow-wrap:anywhere}
body.admin footer{max-width:70rem}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:1rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{border-bottom-width:2px}
select,textarea{display:block;font:inherit;padding:.5rem .6rem;border:2px solid var(--line);border-radius:.3rem;margin-top:.25rem;color:var(--text);background:var(--bg);max-width:100%}
textarea{width:100%;max-width:40rem}
textarea[aria-invalid=true]{border-color:var(--error)}
ul.counters{list-style:none;padding:0;margin:1rem 0;display:flex;flex-wrap:wrap;gap:.5rem}
ul.counters a{display:block;border:1px solid var(--line);border-radius:.4rem;padding:.5rem .8rem;text-decoration:none}
ul.counters a[aria-current=true]{border:2px solid var(--primary)}
ul.counters strong{font-size:1.3rem;display:block}
form.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:flex-end;margin:1rem 0}
form.filters label{margin-top:.5rem}
form.search .actions{margin-top:.25rem}
form.search input{margin:0}
.badge{display:inline-block;border-radius:1rem;padding:.1rem .6rem;font-weight:600;font-size:.9rem;border:1px solid}
.badge.red{background:#fde8e8;color:#8a1111;border-color:#8a1111}
.badge.amber{background:#fff4d6;color:#6b4500;border-color:#6b4500}
.badge.ok{background:#e6f4ea;color:#0a5a28;border-color:#0a5a28}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
form.admin-action{border:1px solid var(--line);border-radius:.4rem;padding:1rem;margin:1rem 0}
.confirm{display:flex;gap:.5rem;align-items:center;margin-top:.75rem}
.confirm label{margin:0;font-weight:400}
.confirm input{width:1.25rem;height:1.25rem}
.once code{word-break:break-all;font-size:1.05rem;user-select:all}
.scopes{display:flex;flex-wrap:wrap;gap:.25rem 1rem}
.scopes label{font-weight:400}
ol.timeline{padding-left:1.5rem}
ol.timeline li{margin:.25rem 0}
progress{vertical-align:middle}
.chart{margin:1rem 0}
.chart figcaption{font-weight:600;margin-bottom:.25rem}
.chart svg{display:block;max-width:100%;height:auto}
.chart summary{cursor:pointer;margin-top:.25rem}
table.figures td{font-variant-numeric:tabular-nums}
tr.total th,tr.total td{font-weight:600}
form.period .hint{flex-basis:100%}
section.purpose-report{border-top:1px solid var(--line);margin-top:1.5rem;padding-top:.5rem}
@media print{.skip,header.top nav,form.period,.screen-only{display:none}body.admin main{max-width:none;padding:0}a{color:inherit;text-decoration:none}h2,h3{break-after:avoid}tr,.chart svg{break-inside:avoid}thead{display:table-header-group}th,td{padding:.2rem .4rem;border-color:#000}}
@media (max-width:30rem){dl.facts{grid-template-columns:1fr}.choices{grid-template-columns:1fr}h1{font-size:1.35rem}}
@media (prefers-reduced-motion:reduce){*{scroll-behavior:auto!important;transition:none!important}}
`;
}

/**
 * The pages' CSP: nothing inline, nothing from elsewhere — but the logo's origin for images
 * when the configured logo lives on another site.
 */
export function pageCsp(brand: Brand): string {
  let img = "img-src 'self' data:";
  if (brand.logoUrl && /^https?:\/\//i.test(brand.logoUrl)) img += ` ${new URL(brand.logoUrl).origin}`;
  return ["default-src 'self'", "script-src 'self'", "style-src 'self'", img, "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');
}
