// Drives Microsoft 365 Agents Playground in headless Chromium as a person does, and saves a
// screenshot of each step. Usage: node browser.mjs <playground url> <screenshot dir> <setup code>
// (the setup code links the Playground's team to the second CSP's enterprise, whose cards are in
// that CSP's brand). Prints one JSON line per step; exits 1 on the first step that does not show
// what it should.
import { chromium } from 'playwright-core';

const [url, shots, setupCode] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.setDefaultTimeout(15000);
let invokes = 0; // card clicks that reached the Playground (and so the bot)
page.on('request', (request) => { if (request.url().includes('/_conversation/v1/invoke')) invokes++; });

async function step(name, action, expected) {
  const started = Date.now();
  try {
    await action();
    await page.getByText(expected).first().waitFor();
    await page.waitForTimeout(300); // let the card finish rendering for the picture
    await page.screenshot({ path: `${shots}/${name}.png` });
    console.log(JSON.stringify({ step: name, ok: true, ms: Date.now() - started }));
  } catch (error) {
    await page.screenshot({ path: `${shots}/${name}-FAILED.png` });
    console.log(JSON.stringify({ step: name, ok: false, error: String(error).slice(0, 500) }));
    await browser.close();
    process.exit(1);
  }
}

async function openChannel(name) {
  await page.getByText(name, { exact: true }).first().click();
  await page.getByRole('button', { name: 'Post' }).waitFor();
}

async function post(command) {
  await page.getByRole('textbox').first().click();
  await page.keyboard.type('@');
  await page.getByRole('menuitem', { name: 'Test Bot' }).click();
  await page.keyboard.type(` ${command}`);
  await page.getByRole('button', { name: 'Post' }).click();
}

// The Playground's compose box sends a message's text without its line breaks (it joins the
// editor's text nodes) and without the HTML form Teams sends besides the text. A pasted list is
// sent as Teams sends it, through the Playground's own Mock an Activity > Custom activity: the
// text with its line breaks, and the HTML form with a paragraph per line.
async function postLines(conversationId, lines) {
  const config = await (await page.request.get(`${url}/_internal/v1/config`)).json();
  const me = config.config.currentUser;
  await page.getByText('Mock an Activity', { exact: true }).click();
  await page.getByText('Custom activity', { exact: true }).click();
  const editor = page.locator('.monaco-editor').first();
  await editor.waitFor();
  const template = await (await page.request.get(
    `${url}/_internal/v1/customActivities/template?conversationId=${conversationId}`)).json();
  const mention = '<at>Test Bot</at>';
  const escape = (line) => line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const activity = {
    ...template,
    type: 'message',
    from: { id: me.id, name: me.name, aadObjectId: me.aadObjectId },
    text: `${mention} ${lines.join('\n')}`,
    textFormat: 'plain',
    attachments: [{
      contentType: 'text/html',
      content: lines.map((line, i) => `<p>${i ? '' : `${mention} `}${escape(line)}</p>`).join(''),
    }],
    entities: [{ type: 'mention', text: mention, mentioned: { id: template.recipient.id, name: 'Test Bot' } }],
    channelData: {
      tenant: { id: template.conversation.tenantId },
      teamsChannelId: conversationId, teamsTeamId: 'team-id',
      channel: { id: conversationId }, team: { id: 'team-id' },
    },
  };
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(JSON.stringify(activity));
  // A mention among the entities makes the dialog offer its Mention in Word form: back to JSON.
  await page.getByRole('tab', { name: 'JSON' }).click();
  await page.getByRole('button', { name: 'Send activity' }).click();
}

async function click(title) {
  await page.getByRole('button', { name: title, exact: true }).first().click();
}

// The second CSP's logo is on placehold.co, out of reach of a machine without Internet access:
// the page gets the picture placehold.co draws for that address (white initials on the brand's
// colour), so that the branded card shows a logo rather than a broken image.
await page.route('https://placehold.co/**', (route) => route.fulfill({
  contentType: 'image/svg+xml',
  body: '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96"><rect width="96" height="96" '
    + 'fill="#107C10"/><text x="48" y="58" font-family="sans-serif" font-size="28" fill="#fff" '
    + 'text-anchor="middle">NW</text></svg>',
}));
await page.goto(url, { waitUntil: 'networkidle' });
await openChannel('General');
await step('01-map', () => post('map (555) 987-6543 Front desk'), 'Number mapped');
await openChannel('Announcements');
await step('02-map-in-announcements', () => post('map (555) 987-1234 Sales line'), 'Number mapped');
await openChannel('General');
await step('03-map-taken-number', () => post('map (555) 987-1234'), 'Already mapped to another channel');
await step('04-move-it-here', () => click('Move it here'), 'Number moved here');
await step('05-status', () => post('status'), 'Numbers in General');
await step('06-unmap-asks-first', () => click('Unmap'), 'Unmap this number?');
await step('07-unmapped', () => click('Unmap'), 'Number unmapped');
await step('08-bad-number', () => post('map 555-12'), 'That is not a phone number I can use');
// The status card's form checks the number in the page before anything is sent.
await step('09-form-checks-the-number', async () => {
  await post('status');
  await page.getByText('Numbers in General').first().waitFor();
  await page.getByLabel('Phone number').first().fill('hello');
  const before = invokes;
  await click('Map to this channel');
  await page.waitForTimeout(500);
  if (invokes !== before) throw new Error('the form was sent with an invalid number');
}, 'Enter a phone number, e.g. +15559876543 or (555) 987-6543');
// The notice Announcements got when step 04 moved its number to General, posted by the bot
// through the reference it kept when step 02's message arrived there.
await openChannel('Announcements');
await step('10-notice', async () => {}, 'Number moved to another channel');
await openChannel('General');
// A pasted list: three numbers (one with a name) and a line that is no number.
await step('11-bulk-preview', () => postLines('team-id', [
  'map (555) 987-2001 Reception', '(555) 987-2002', '+15559872003', 'call me maybe',
]), 'Map 4 numbers to General');
await step('12-bulk-done', () => click('Map 3 here'), /^Done$/);
// Linked by a setup code to the second CSP's enterprise, the team's cards carry its brand.
await step('13-branded', async () => {
  await post(`setup ${setupCode}`);
  await page.getByText('This team now uses').first().waitFor();
  await post('help');
}, 'Northwind Connect for Teams');
await browser.close();
