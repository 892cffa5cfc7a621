// Renders Adaptive Cards with Microsoft's renderer (npm adaptivecards) under the Teams host
// configs of the Adaptive Cards designer (light and dark), in headless Chromium, one PNG per card
// and host. Usage: node render_cards.mjs <cards.json> <out dir> [--no-index]
//
// cards.json: [{"name": "status-full", "title": "...", "screen": "status", "card": {...}}, ...]
// Writes <out dir>/<host>/<name>.png and, unless --no-index, <out dir>/index.md. Prints one JSON
// object on stdout: per card and host, the renderer's warnings (its parse and validation events,
// as tests/support/validate_cards.js collects them) and every render error (nothing rendered,
// an image that did not load, an error or a warning in the page's console).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const HOSTS = ['light', 'dark'];
const WIDTH = 500; // px: the width of a card in a Teams channel on a laptop, about
// The page behind the card, as the designer's Teams container paints it.
const BACKDROP = { light: '#F6F6F6', dark: '#201E1F' };
const designer = path.dirname(require.resolve('adaptivecards-designer/package.json'));
const hostConfig = (host) => JSON.parse(
  readFileSync(path.join(designer, 'lib/hostConfigs', `microsoft-teams-${host}.json`), 'utf8'));
const containerCss = (host) => readFileSync(
  path.join(designer, 'dist/containers', `teams-container-${host}.css`), 'utf8');
const renderer = require.resolve('adaptivecards/dist/adaptivecards.min.js');
// The renderer shows markdown through markdown-it when the page has it, as Teams' own does.
const markdownIt = path.join(path.dirname(require.resolve('markdown-it/package.json')),
  'dist/browser/markdown-it.umd.min.js');
// A CSP's logo is on the CSP's own server; the gallery has no network, so every image is this.
const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="12" fill="#0F6E6E"/><path d="M14 44 L32 16 L50 44 Z" fill="#F2C14E"/>
<circle cx="32" cy="38" r="6" fill="#FFFFFF"/></svg>`;

const [cardsFile, outDir, ...flags] = process.argv.slice(2);
if (!cardsFile || !outDir) {
  console.error('usage: node render_cards.mjs <cards.json> <out dir> [--no-index]');
  process.exit(2);
}
const entries = JSON.parse(readFileSync(cardsFile, 'utf8'));

// Runs in the page: parses, validates and renders one card; returns the renderer's warnings.
function renderInPage({ card, config }) {
  const AC = window.AdaptiveCards;
  const host = document.getElementById('card');
  host.replaceChildren();
  // Teams renders Adaptive Cards 1.5 (the designer's Teams container targets it): a card of a
  // later version, or a value of a later one, is reported.
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  const adaptive = new AC.AdaptiveCard();
  adaptive.maxVersion = AC.Versions.v1_5;
  adaptive.hostConfig = new AC.HostConfig(config);
  adaptive.parse(card, context);
  const warnings = [];
  for (let i = 0; i < context.eventCount; i++) warnings.push(context.getEventAt(i).message);
  for (const event of adaptive.validateProperties().validationEvents) warnings.push(event.message);
  const errors = [];
  const rendered = adaptive.render();
  if (rendered) host.appendChild(rendered);
  else errors.push('the renderer rendered nothing');
  return { warnings, errors };
}

async function imagesLoaded(page) {
  return page.evaluate(async () => {
    const images = [...document.querySelectorAll('#card img')];
    await Promise.all(images.map((img) => (img.complete ? null : new Promise((done) => {
      img.addEventListener('load', done, { once: true });
      img.addEventListener('error', done, { once: true });
    }))));
    return images.filter((img) => img.naturalWidth === 0).map((img) => img.src);
  });
}

async function renderHost(browser, host) {
  // Dates are shown in the reader's time zone and language: fixed, so the pictures only change
  // when the cards do.
  const page = await browser.newPage({
    viewport: { width: WIDTH, height: 100 }, timezoneId: 'UTC', locale: 'en-US',
  });
  let pageErrors = [];
  page.on('console', (message) => {
    if (['error', 'warning'].includes(message.type())) pageErrors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  await page.route('**/*', (route) => {
    const request = route.request();
    if (request.url().startsWith('data:') || request.url() === 'about:blank') return route.continue();
    if (request.resourceType() === 'image') {
      return route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO });
    }
    pageErrors.push(`request to ${request.url()}`);
    return route.abort();
  });
  await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>
    ${containerCss(host)}
    html, body { margin: 0; padding: 0; background: ${BACKDROP[host]}; }
    #frame { padding: 12px; }
    </style></head><body><div id="frame"><div id="card" class="teams-card"></div></div></body></html>`);
  await page.addScriptTag({ path: markdownIt });
  await page.addScriptTag({ path: renderer });
  const config = hostConfig(host);
  mkdirSync(path.join(outDir, host), { recursive: true });
  const results = {};
  for (const entry of entries) {
    pageErrors = [];
    let outcome;
    try {
      outcome = await page.evaluate(renderInPage, { card: entry.card, config });
      for (const src of await imagesLoaded(page)) outcome.errors.push(`image not loaded: ${src}`);
      await page.screenshot({ path: path.join(outDir, host, `${entry.name}.png`), fullPage: true });
    } catch (error) {
      outcome = { warnings: [], errors: [`render failed: ${String(error).slice(0, 500)}`] };
    }
    outcome.errors.push(...pageErrors);
    results[entry.name] = outcome;
  }
  await page.close();
  return results;
}

function indexPage() {
  const lines = [
    '# Card gallery',
    '',
    'Every card the bot sends, with realistic data, in a CSP\'s brand, as Microsoft\'s Adaptive',
    'Cards renderer draws it under the Teams host configs of the Adaptive Cards designer (light and',
    'dark), 500 px wide. Regenerate with `.venv/bin/python scripts/card_gallery.py` (`make gallery`).',
    '',
    `${entries.length} cards. Screen: the method of \`cards.screens.Screens\` (or the notice of`,
    '`cards/notices.py`) that builds the card.',
    '',
  ];
  for (const entry of entries) {
    lines.push(`## ${entry.title}`, '', `Screen: \`${entry.screen}\` · \`${entry.name}\``, '');
    lines.push(HOSTS.map((host) =>
      `<img src="${host}/${entry.name}.png" width="400" alt="${entry.title} (Teams ${host})">`).join(' '));
    lines.push('');
  }
  return `${lines.join('\n')}`;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let byHost;
try {
  byHost = await Promise.all(HOSTS.map((host) => renderHost(browser, host)));
} finally {
  await browser.close();
}
if (!flags.includes('--no-index')) writeFileSync(path.join(outDir, 'index.md'), indexPage());
const cards = entries.map((entry) => ({
  name: entry.name,
  screen: entry.screen,
  hosts: Object.fromEntries(HOSTS.map((host, i) => [host, byHost[i][entry.name]])),
}));
process.stdout.write(`${JSON.stringify({ hosts: HOSTS, cards })}\n`);
