// A Playwright driver for the dashboard's browser tests: Debian's Chromium, headless,
// driven by JSON commands, one a line on stdin, each answered by one JSON line on stdout
// ({"ok": true, ...} or {"ok": false, "error": "..."}). tests/e2e/test_dashboard.py starts
// it next to a real operator, so the scenario (git commits, files edited on the host)
// stays in Python with the e2e harness.
//
//   node driver.mjs [--viewport 1280x800]
//   {"op": "goto", "url": "http://127.0.0.1:PORT/"}
//   {"op": "wait", "selector": "#apps-table", "text": "web", "timeout": 30000}
//   {"op": "click"|"fill"|"press"|"text"|"count"|"screenshot"|"viewport"|"eval"|"time", ...}
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plumb-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

const DEFAULT_TIMEOUT = Number(process.env.PLUMB_BROWSER_TIMEOUT || 30000);

async function run(cmd) {
  const timeout = cmd.timeout || DEFAULT_TIMEOUT;
  const loc = () => {
    let l = page.locator(cmd.selector);
    if (cmd.text !== undefined) l = l.filter({ hasText: cmd.text });
    return cmd.nth !== undefined ? l.nth(cmd.nth) : l.first();
  };
  switch (cmd.op) {
    case 'goto': {
      const t0 = Date.now();
      await page.goto(cmd.url, { waitUntil: 'domcontentloaded', timeout });
      return { ms: Date.now() - t0 };
    }
    case 'wait': {
      const t0 = Date.now();
      await loc().waitFor({ state: cmd.state || 'visible', timeout });
      return { ms: Date.now() - t0 };
    }
    case 'click':
      await loc().click({ timeout });
      return {};
    case 'fill':
      await loc().fill(cmd.value, { timeout });
      return {};
    case 'press':
      await page.keyboard.press(cmd.key);
      return {};
    case 'text':
      return { text: await loc().innerText({ timeout }) };
    case 'count':
      return { count: await page.locator(cmd.selector).count() };
    case 'viewport':
      await page.setViewportSize({ width: cmd.width, height: cmd.height });
      return {};
    case 'screenshot':
      fs.mkdirSync(path.dirname(cmd.path), { recursive: true });
      await page.screenshot({ path: cmd.path, fullPage: !!cmd.fullPage });
      return {};
    case 'eval':
      return { value: await page.evaluate(cmd.expression) };
    case 'errors':
      return { errors: consoleErrors.splice(0) };
    case 'close':
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
      return { closed: true };
    default:
      throw new Error('unknown op ' + cmd.op);
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let reply;
  try {
    const cmd = JSON.parse(line);
    reply = { ok: true, ...(await run(cmd)) };
    if (cmd.op === 'close') {
      process.stdout.write(JSON.stringify(reply) + '\n');
      break;
    }
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e).slice(0, 4000) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
await context.close().catch(() => {});
fs.rmSync(userDataDir, { recursive: true, force: true });
