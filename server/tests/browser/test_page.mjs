// Drives /static/websocket_test.html in headless Chromium against a running
// brain-ws-server and checks what the page shows. run.sh starts the server
// (with a 1 s heartbeat) and sets BRAIN_WS_HTTP; run it through run.sh.
//
// Env: BRAIN_WS_HTTP (http://127.0.0.1:PORT, required), CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT (default ./test-page.png).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.BRAIN_WS_HTTP;
if (!base) {
  console.error('BRAIN_WS_HTTP is not set; run this through run.sh');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshot = process.env.SCREENSHOT || join(process.cwd(), 'test-page.png');
const screenshotEnd = screenshot.replace(/(\.png)?$/, '-end.png');
const WAIT = 10_000; // generous: the machine is shared
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let passed = 0;
let failed = 0;
const pageErrors = [];

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function assertEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** The log as data, oldest first. */
async function logEntries(page) {
  const entries = await page.$$eval('#log li', (lis) =>
    lis.map((li) => ({
      dir: li.dataset.dir,
      type: li.dataset.type,
      channel: li.dataset.channel,
      hidden: li.hidden,
      text: li.querySelector('pre').textContent,
    })),
  );
  return entries.reverse().map((e) => {
    let json = null;
    try { json = JSON.parse(e.text); } catch { /* plain text entry */ }
    return { ...e, json };
  });
}

/** Waits until a log entry matches `pred` (serializable source) and returns it. */
async function waitForEntry(page, description, pred) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const found = (await logEntries(page)).filter(pred);
    if (found.length > 0) return found[found.length - 1];
    await page.waitForTimeout(50);
  }
  throw new Error(`no log entry: ${description}`);
}

async function text(page, selector) {
  return (await page.textContent(selector)).trim();
}

async function waitState(page, state) {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout: WAIT });
}

async function post(path, body) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Runs one check; a failure is counted and, when `fatal`, ends the run. */
async function step(name, fn, { fatal = false } = {}) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL - ${name}\n  ${e.message.split('\n').join('\n  ')}`);
    if (fatal) throw e;
  }
}

const profile = mkdtempSync(join(tmpdir(), 'brain-ws-chromium-'));
// A fresh profile directory (playwright's persistent context is how it
// takes --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const page = context.pages()[0] || await context.newPage();
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });

let firstConnection = null;
try {
  await step('page loads from the server and defaults the URL to its own host', async () => {
    const res = await page.goto(`${base}/static/websocket_test.html`);
    assertEq(res.status(), 200, 'HTTP status');
    assertEq(await page.title(), 'BRAiN WebSocket test client', 'title');
    assertEq(await page.inputValue('#url'), base.replace(/^http/, 'ws'), 'URL field');
    assertEq(await page.$$eval('#quick button', (b) => b.map((x) => x.textContent)),
      ['missions', 'agents', 'system', 'tasks', 'audit', 'metrics'], 'quick channel buttons');
    // Every form control has an accessible label.
    const unlabeled = await page.$$eval('input, select, textarea', (els) =>
      els.filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.id));
    assertEq(unlabeled, [], 'controls without a label');
    assert(await page.isHidden('#close-info'), 'no "last close" before any close');
    assertEq(await page.getAttribute('#status', 'data-state'), 'disconnected', 'initial status');
  }, { fatal: true });

  await step('connect with a token in Sec-WebSocket-Protocol: welcome, connection id, brain.v1', async () => {
    await page.fill('#token', 'header.payload.signature');
    await page.click('#connect');
    await waitState(page, 'connected');
    firstConnection = await text(page, '#connection-id');
    assert(UUID.test(firstConnection), `connection id ${firstConnection} is a UUID`);
    assertEq(await text(page, '#subprotocol'), 'brain.v1', 'negotiated subprotocol');
    const welcome = await waitForEntry(page, 'connected', (e) => e.dir === 'in' && e.type === 'connected');
    assertEq(welcome.json.connection_id, firstConnection, 'welcome connection_id');
    assertEq(welcome.json.protocol, 'brain.v1', 'welcome protocol');
    assertEq(welcome.json.heartbeat_interval, 1, 'welcome heartbeat_interval (run.sh uses 1s)');
    assert(await page.isDisabled('#connect'), 'Connect is disabled while connected');
  }, { fatal: true });

  await step('subscribe to missions with the quick button', async () => {
    await page.click('#quick button[data-channel="missions"]');
    await page.waitForSelector('#subs li[data-channel="missions"][data-status="subscribed"]', { timeout: WAIT });
    const out = await waitForEntry(page, 'subscribe sent', (e) => e.dir === 'out' && e.type === 'subscribe');
    assertEq(out.json, { type: 'subscribe', channel: 'missions' }, 'subscribe message');
    const sub = await waitForEntry(page, 'subscribed missions',
      (e) => e.dir === 'in' && e.type === 'subscribed' && e.channel === 'missions');
    assert(typeof sub.json.epoch === 'string' && sub.json.epoch.length > 0, 'subscribed carries an epoch');
    assertEq(typeof sub.json.offset, 'number', 'subscribed offset type');
    assertEq(await page.$$eval('#subs li', (l) => l.map((x) => x.dataset.channel)), ['missions'], 'subscription list');
  });

  await step('broadcast through the page\'s HTTP form reaches the page', async () => {
    await page.selectOption('#http-target', 'channel');
    await page.fill('#http-name', 'missions');
    await page.fill('#http-type', 'mission_created');
    await page.fill('#http-data', '{"mission_id": "m-browser-1", "name": "Browser test"}');
    await page.click('#http-send');
    await page.waitForFunction(() => document.querySelector('#http-result').textContent.startsWith('HTTP '), null, { timeout: WAIT });
    const result = await text(page, '#http-result');
    assert(result.startsWith('HTTP 200'), `HTTP result: ${result}`);
    const body = JSON.parse(result.slice(result.indexOf('\n') + 1));
    assertEq(body, { status: 'broadcasted', channel: 'missions', subscribers: 1 }, 'broadcast response');
    const ev = await waitForEntry(page, 'mission_created event',
      (e) => e.dir === 'in' && e.type === 'mission_created' && e.channel === 'missions');
    assertEq(ev.json.data, { mission_id: 'm-browser-1', name: 'Browser test' }, 'event data');
    assertEq(typeof ev.json.offset, 'number', 'event offset type');
    assertEq(typeof ev.json.timestamp, 'number', 'event timestamp type');
    const pos = await text(page, '#subs li[data-channel="missions"] .pos');
    assert(pos.includes(`offset ${ev.json.offset}`), `subscription shows offset ${ev.json.offset}: ${pos}`);
  });

  await step('a broadcast from outside the page (HTTP API) shows in the log', async () => {
    const r = await post('/api/ws/broadcast', { channel: 'missions', type: 'mission_started', message: { mission_id: 'm-browser-1' } });
    assertEq(r, { status: 200, body: { status: 'broadcasted', channel: 'missions', subscribers: 1 } }, 'broadcast');
    const ev = await waitForEntry(page, 'mission_started', (e) => e.dir === 'in' && e.type === 'mission_started');
    assertEq(ev.json.data, { mission_id: 'm-browser-1' }, 'event data');
  });

  await step('server pings are answered automatically; "hide ping / pong" hides them', async () => {
    await waitForEntry(page, 'ping received', (e) => e.dir === 'in' && e.type === 'ping');
    const pong = await waitForEntry(page, 'pong sent', (e) => e.dir === 'out' && e.type === 'pong');
    assertEq(pong.json, { type: 'pong' }, 'pong message');
    await page.check('#hide-heartbeat');
    const shown = (await logEntries(page)).filter((e) => !e.hidden).map((e) => e.type);
    assert(!shown.includes('ping') && !shown.includes('pong') && shown.includes('mission_created'),
      `visible with ping/pong hidden: ${shown}`);
  });

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);

  await step('custom messages: invalid JSON is refused by the page, sent raw it gets invalid_json', async () => {
    await page.fill('#custom', '{"type": "subscribe", ');
    await page.click('#send');
    const msg = await text(page, '#send-msg');
    assert(msg.startsWith('Not valid JSON'), `validation message: ${msg}`);
    await page.check('#raw');
    await page.click('#send');
    const err = await waitForEntry(page, 'error invalid_json', (e) => e.dir === 'in' && e.type === 'error');
    assertEq(err.json.code, 'invalid_json', 'error code');
    await page.uncheck('#raw');
    await page.selectOption('#template', 'ping');
    await page.click('#send');
    await waitForEntry(page, 'pong answering the client ping',
      (e) => e.dir === 'in' && e.type === 'pong');
    assertEq(await page.getAttribute('#status', 'data-state'), 'connected', 'still connected');
  });

  await step('log filter by type and channel', async () => {
    await page.fill('#filter-type', 'mission');
    const visible = (await logEntries(page)).filter((e) => !e.hidden);
    assertEq([...new Set(visible.map((e) => e.type))].sort(), ['mission_created', 'mission_started'], 'visible types');
    await page.fill('#filter-type', '');
    await page.fill('#filter-channel', 'missions');
    const byChannel = (await logEntries(page)).filter((e) => !e.hidden);
    assert(byChannel.length >= 4 && byChannel.every((e) => e.channel === 'missions'), 'channel filter');
    await page.fill('#filter-channel', '');
  });

  await step('heartbeat: with auto pong off the server closes 4000, the page reconnects and recovers', async () => {
    await page.uncheck('#auto-pong');
    await page.waitForSelector('#close-code[data-code="4000"]', { timeout: WAIT });
    await page.check('#auto-pong');
    assertEq(await text(page, '#close-code'), '4000 (heartbeat_timeout)', 'close code shown');
    assertEq(await page.getAttribute('#close-reconnect', 'data-reconnect'), 'true', 'reconnect rule for 4000');
    await page.waitForFunction((old) => {
      const s = document.querySelector('#status').dataset.state;
      const id = document.querySelector('#connection-id').textContent;
      return s === 'connected' && id !== old && id.length === 36;
    }, firstConnection, { timeout: WAIT });
    const entries = await logEntries(page);
    assert(entries.some((e) => e.dir === 'sys' && e.type === 'reconnect'), 'a reconnect was scheduled');
    const resub = entries.filter((e) => e.dir === 'out' && e.type === 'subscribe').pop();
    assertEq(resub.json.channel, 'missions', 'resubscribe channel');
    assert(resub.json.since && typeof resub.json.since.epoch === 'string', `resubscribe carries since: ${resub.text}`);
    const sub = await waitForEntry(page, 'subscribed recovered:true',
      (e) => e.dir === 'in' && e.type === 'subscribed' && e.json.recovered === true);
    assertEq(sub.json.channel, 'missions', 'recovered channel');
  });

  await step('disconnect (1000, no reconnect), miss an event, reconnect and get it replayed', async () => {
    const closesBefore = (await logEntries(page)).filter((e) => e.type === 'close').length;
    await page.click('#disconnect');
    await waitState(page, 'disconnected');
    await page.waitForFunction((n) => document.querySelectorAll('#log li[data-type="close"]').length > n,
      closesBefore, { timeout: WAIT });
    assertEq(await page.getAttribute('#close-reconnect', 'data-reconnect'),
      await page.getAttribute('#close-code', 'data-code') === '1000' ? 'false' : 'true', 'reconnect rule shown');
    assertEq(await page.getAttribute('#subs li[data-channel="missions"]', 'data-status'), 'pending', 'kept for reconnect');
    const r = await post('/api/ws/broadcast', { channel: 'missions', type: 'mission_completed', message: { mission_id: 'm-missed' } });
    assertEq(r.body.subscribers, 0, 'nobody subscribed while disconnected');
    await page.waitForTimeout(300);
    assertEq(await page.getAttribute('#status', 'data-state'), 'disconnected', 'stays disconnected');
    await page.click('#connect');
    const replayed = await waitForEntry(page, 'missed event replayed',
      (e) => e.dir === 'in' && e.type === 'mission_completed' && e.json.data.mission_id === 'm-missed');
    assertEq(replayed.channel, 'missions', 'replayed channel');
    // The server must answer the client's close frame, so the browser reports
    // the 1000 it sent (without that answer it reports 1006).
    const closes = (await logEntries(page)).filter((e) => e.dir === 'sys' && e.type === 'close');
    const userClose = closes[closes.length - 1].json;
    assertEq([userClose.code, userClose.reason, userClose.reconnect], [1000, 'client disconnect', false], 'close after Disconnect');
  });

  await step('/ws/channel/{name}: subscribed right after the welcome; ?token= variant', async () => {
    await page.click('#disconnect');
    await waitState(page, 'disconnected');
    await page.click('#clear-log');
    assertEq((await logEntries(page)).length, 0, 'log cleared');
    await page.selectOption('#endpoint', 'channel');
    await page.fill('#endpoint-channel', 'agents');
    await page.check('#token-query');
    await page.click('#connect');
    await waitState(page, 'connected');
    const inbound = (await logEntries(page)).filter((e) => e.dir === 'in');
    assertEq(inbound[0].type, 'connected', 'first frame');
    await waitForEntry(page, 'subscribed agents', (e) => e.dir === 'in' && e.type === 'subscribed' && e.channel === 'agents');
    const first = (await logEntries(page)).filter((e) => e.dir === 'in');
    assertEq([first[0].type, first[1].type, first[1].channel], ['connected', 'subscribed', 'agents'], 'first two frames');
    const opening = (await logEntries(page)).find((e) => e.type === 'connecting');
    assert(opening.text.includes('token=***') && !opening.text.includes('header.payload'), `token hidden in log: ${opening.text}`);
    await page.waitForSelector('#subs li[data-channel="missions"][data-status="subscribed"]', { timeout: WAIT });
    await page.waitForSelector('#subs li[data-channel="agents"][data-status="subscribed"]', { timeout: WAIT });
  });

  await step('unsubscribe from the list', async () => {
    await page.click('#subs li[data-channel="agents"] button');
    await waitForEntry(page, 'unsubscribed agents', (e) => e.dir === 'in' && e.type === 'unsubscribed' && e.channel === 'agents');
    await page.waitForSelector('#subs li[data-channel="agents"]', { state: 'detached', timeout: WAIT });
    assertEq(await page.$$eval('#subs li', (l) => l.map((x) => x.dataset.channel)), ['missions'], 'remaining subscriptions');
  });

  await step('no JavaScript errors on the page', async () => {
    assertEq(pageErrors, [], 'page errors');
  });

  // A second server with --auth required (run.sh): a refused token stops
  // the page's reconnects and the page says why (issue 14, item 12). Its
  // own tab: the refused fetch logs a console error there by design.
  const authBase = process.env.BRAIN_WS_HTTP_AUTH;
  if (authBase) {
    await step('a refused token: no reconnect loop, the page says the server refused it', async () => {
      const tab = await context.newPage();
      await tab.goto(`${authBase}/static/websocket_test.html`);
      await tab.fill('#token', 'not.a.jwt');
      await tab.click('#connect');
      await tab.waitForFunction(() => document.querySelector('#connect-msg').textContent.includes('Not reconnecting'),
        null, { timeout: WAIT });
      const message = await text(tab, '#connect-msg');
      assert(message.includes('HTTP 401 unauthorized: invalid token'), `the reason is shown: ${message}`);
      assertEq(await tab.getAttribute('#status', 'data-state'), 'disconnected', 'status');
      assertEq(await text(tab, '#close-reconnect'), 'no: the server refused the token', 'reconnect shown');
      // Three backoff periods later, still one attempt.
      await tab.waitForTimeout(2000);
      const attempts = (await logEntries(tab)).filter((e) => e.type === 'connecting').length;
      assertEq(attempts, 1, 'connection attempts');
      await tab.close();
    });
  }
} catch {
  // A fatal step failed (reported by step()); fall through to the summary.
} finally {
  await page.screenshot({ path: screenshotEnd, fullPage: true }).catch(() => {});
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(`screenshot at the end: ${screenshotEnd}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
