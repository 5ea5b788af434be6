/**
 * The portal bench's same-run baseline: a bare Hono app rendering, with hono/jsx, a small page
 * (head, header, nav, a list of `items` entries with a form each, footer) — what the framework
 * alone costs for a page of the portal's shape, with no database, session or translation.
 */
import { Hono } from 'hono';

function Page(props: { items: number }) {
  const rows = Array.from({ length: props.items }, (_, i) => i);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Baseline — bench</title>
        <link rel="stylesheet" href="/assets/site.css" />
      </head>
      <body>
        <header>
          <a href="/">Bench shop</a>
          <nav>
            <a href="/a">First</a>
            <a href="/b">Second</a>
          </nav>
        </header>
        <main id="main">
          <h1>A list of {props.items} items</h1>
          <ul>
            {rows.map((i) => (
              <li id={`item-${i}`}>
                <h2>Item {i}</h2>
                <p>Some text about item {i}, long enough to look like a purpose's description.</p>
                <form method="post" action="/items">
                  <input type="hidden" name="item" value={String(i)} />
                  <button type="submit">Choose</button>
                </form>
              </li>
            ))}
          </ul>
        </main>
        <footer>
          <a href="/policy">Policy</a>
        </footer>
      </body>
    </html>
  );
}

/** `GET /?n=N`: the page with N items. */
export function baselineApp() {
  const app = new Hono();
  app.get('/', (c) => c.html(`<!doctype html>${(<Page items={Number(c.req.query('n') ?? 10)} />).toString()}`));
  return app;
}
