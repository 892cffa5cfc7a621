// Drives Microsoft 365 Agents Playground in headless Chromium as a person does, and saves a
// screenshot of each step. Usage: node browser.mjs <playground url> <screenshot dir>
// Prints one JSON line per step; exits 1 on the first step that does not show what it should.
import { chromium } from 'playwright-core';

const [url, shots] = process.argv.slice(2);
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

async function click(title) {
  await page.getByRole('button', { name: title, exact: true }).first().click();
}

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
await browser.close();
