#!/usr/bin/env node
// End-to-end test of the agents' page: Debian's headless Chromium, driven by playwright-core,
// against web_e2e_server (a temporary store seeded with a Chinese escalated thread).
// Usage: node e2e.test.js --server PATH/web_e2e_server --out BUILD_DIR
// Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/chromium or node_modules are missing.
'use strict';

const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const SKIP = 77;
const chromiumPath = '/usr/bin/chromium';

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const serverBin = arg('--server');
const outDir = arg('--out') || process.cwd();
if (!serverBin) {
  console.error('usage: e2e.test.js --server PATH --out DIR');
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`SKIP: ${chromiumPath} not installed (apt-get install chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core')));
} catch (e) {
  console.log(`SKIP: playwright-core not installed (cd ${__dirname} && npm ci): ${e.message}`);
  process.exit(SKIP);
}

// Starts the fixture server; resolves with its port and token.
function startServer(dir) {
  const child = spawn(serverBin, ['serve', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const found = {};
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error('server did not start in 20 s')), 20000);
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    lines.on('line', (line) => {
      const [key, value] = line.split(' ');
      found[key] = value;
      if (found.PORT && found.TOKEN) {
        clearTimeout(timer);
        resolve({ child, port: Number(found.PORT), token: found.TOKEN });
      }
    });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.stdin.end();  // the server stops when its stdin closes
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supportd-web-e2e-'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'supportd-web-chromium-'));
  const server = await startServer(dir);
  const base = `http://127.0.0.1:${server.port}`;
  let context;
  const dialogs = [];
  let reply = '';
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      locale: 'zh-CN',
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on('dialog', async (d) => {  // any alert() means hostile mail ran as script
      dialogs.push(d.message());
      await d.dismiss();
    });
    const offsite = [];
    page.on('request', (r) => { if (!r.url().startsWith(base)) offsite.push(r.url()); });

    // Not signed in: the page sends us to the login form.
    await page.goto(base + '/');
    assert.match(page.url(), /\/login$/);
    await page.fill('#token', 'wrong-token');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('.error'), /not valid/);
    await page.fill('#token', server.token);
    await page.fill('#name', '李娜');
    await page.click('button[type=submit]');
    await page.waitForURL(base + '/');

    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'supportd_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');

    // The queue: escalated and open threads, the Chinese one first (priority 1).
    await page.waitForSelector('table.threads');
    const rows = page.locator('table.threads tbody tr');
    assert.equal(await rows.count(), 3);
    const first = await rows.nth(0).innerText();
    assert.match(first, /提现一直没有到账/);
    assert.match(first, /escalated/);
    assert.match(first, /withdrawal/);
    assert.match(first, /张伟 <zhang\.wei@example\.cn>/);
    assert.match(first, /\b5h\b/);
    const all = await page.locator('table.threads').innerText();
    assert.match(all, /Card payment declined twice/);
    assert.ok(all.includes("<script>alert('pwned')</script> urgent"), 'hostile subject shown as text');
    assert.equal(await page.locator('main script').count(), 0);
    assert.match(await page.textContent('header.top .agent'), /李娜/);
    await page.screenshot({ path: path.join(outDir, 'web-list.png'), fullPage: true });

    // The hostile thread renders its mail as text.
    await page.click("text=<script>alert('pwned')</script> urgent");
    await page.waitForSelector('article.msg.in');
    assert.ok((await page.textContent('article.msg.in .body')).includes('<img src=x onerror='));
    assert.equal(await page.locator('article.msg img, article.msg a[href^="javascript"]').count(), 0);
    await page.goto(base + '/');

    // The Chinese thread: the whole decoded conversation.
    await page.click('text=提现一直没有到账');
    await page.waitForSelector('article.msg.in');
    const body = await page.textContent('article.msg.in .body');
    assert.ok(body.includes('我三天前从钱包提现 500 USDT 到交易所'), body);
    assert.ok(body.includes('订单号：W20240501-8831'));
    assert.match(await page.textContent('article.msg.in .reason'), /category escalates/);
    assert.equal(await page.getAttribute('article.msg.in .body', 'lang'), 'zh-CN');
    const threadUrl = page.url().split('?')[0];

    // Add a note.
    await page.fill('#note-form textarea[name=text]', '已联系财务核实，预计今天到账。');
    await page.click('#note-form button');
    await page.waitForSelector('.flash');
    assert.match(await page.textContent('.flash'), /Note added/);
    assert.match(await page.textContent('article.note'), /已联系财务核实，预计今天到账。/);
    assert.match(await page.textContent('article.note header'), /李娜/);

    // Assign to me (the field is prefilled with the agent's name).
    assert.equal(await page.inputValue('#assign-form input[name=assignee]'), '李娜');
    await page.click('#assign-form button');
    await page.waitForSelector('.flash');
    assert.equal((await page.textContent('#assignee')).trim(), '李娜');

    // Send a reply: it is queued in the outbox and shown in the conversation.
    reply = '张先生您好，\n\n您的提现已经处理完成，请查收。\n\nOKPay 客服 李娜';
    await page.fill('#reply-form textarea[name=body]', reply);
    await page.click('#reply-form button');
    await page.waitForSelector('.flash');
    assert.match(await page.textContent('.flash'), /Reply queued/);
    const out = page.locator('article.msg.out').last();
    assert.match(await out.innerText(), /agent_reply/);
    assert.ok((await out.locator('.body').innerText()).includes('您的提现已经处理完成，请查收。'));
    await page.screenshot({ path: path.join(outDir, 'web-thread.png'), fullPage: true });

    // Resolve: the thread leaves the queue.
    await page.click('form[action$="/resolve"] button');
    await page.waitForSelector('.flash');
    assert.equal((await page.textContent('#status')).trim(), 'resolved');
    assert.equal(await page.locator('form[action$="/reopen"]').count(), 1);
    await page.goto(base + '/');
    assert.ok(!(await page.locator('table.threads').innerText()).includes('提现一直没有到账'));
    await page.goto(base + '/?status=resolved');
    assert.match(await page.locator('table.threads').innerText(), /提现一直没有到账/);

    // A forged cross-site style POST (no CSRF token) is refused.
    const forged = await page.request.post(threadUrl + '/reopen', { form: { x: '1' } });
    assert.equal(forged.status(), 403);

    assert.deepEqual(dialogs, [], 'no script from mail ever ran');
    assert.deepEqual(offsite, [], 'the page loads nothing from elsewhere');
  } finally {
    if (context) await context.close();
    await stopServer(server.child);
    fs.rmSync(profile, { recursive: true, force: true });
  }

  // What the store holds now.
  const state = JSON.parse(execFileSync(serverBin, ['dump', dir], { encoding: 'utf8' }));
  fs.rmSync(dir, { recursive: true, force: true });
  const thread = state.threads.find((t) => t.subject === '提现一直没有到账');
  assert.equal(thread.status, 'resolved');
  assert.equal(thread.assignee, '李娜');
  assert.deepEqual(thread.notes, [{ author: '李娜', text: '已联系财务核实，预计今天到账。' }]);
  const last = thread.messages[thread.messages.length - 1];
  assert.equal(last.direction, 'out');
  assert.equal(last.decision, 'agent_reply');
  assert.equal(last.body, reply);
  assert.equal(state.outbox.length, 1);
  const row = state.outbox[0];
  assert.equal(row.thread_id, thread.id);
  assert.deepEqual(row.recipients, ['zhang.wei@example.cn']);
  assert.equal(row.message_id, last.message_id);
  assert.match(row.data, /\r\nIn-Reply-To: <20240501\.abc@example\.cn>\r\n/);
  assert.match(row.data, new RegExp(`\\r\\nMessage-ID: <${row.message_id.replace(/\./g, '\\.')}>\\r\\n`, 'i'));
  assert.ok(!/^Auto-Submitted:/im.test(row.data), 'an agent reply is not auto-submitted');
  assert.match(row.data, /^To: .*<zhang\.wei@example\.cn>/m);
  console.log(`ok: agents' page end to end; screenshots in ${outDir}/web-list.png, web-thread.png`);
}

main().then(() => process.exit(0), (e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
