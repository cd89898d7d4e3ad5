// Measures the dashboard under load: with `iotguard demo --rate R` running, opens the page in
// headless Chromium for a while and reports what the page received and how smooth it stayed
// (long tasks over 50 ms, the longest, main-thread busy share, frames per second).
//
// Usage: IOTGUARD_URL=http://127.0.0.1:PORT/ node dashboard.bench.mjs [SECONDS]
import { chromium } from 'playwright-core';

const url = process.env.IOTGUARD_URL ?? 'http://127.0.0.1:8080/';
const seconds = Number(process.argv[2] ?? 20);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  await page.addInitScript(() => {
    window.__bench = { longTasks: [], frames: 0, events: { flow: 0, alert: 0, stats: 0 } };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__bench.longTasks.push(e.duration);
    }).observe({ entryTypes: ['longtask'] });
    const count = () => { window.__bench.frames += 1; requestAnimationFrame(count); };
    requestAnimationFrame(count);
    const Orig = window.EventSource;
    window.EventSource = class extends Orig {
      constructor(...a) {
        super(...a);
        for (const k of ['flow', 'alert', 'stats']) this.addEventListener(k, () => { window.__bench.events[k] += 1; });
      }
    };
  });
  await page.goto(url);
  await page.waitForSelector('#conn.on', { timeout: 60000 });
  // Start counting once the page is live.
  await page.evaluate(() => { window.__bench.longTasks = []; window.__bench.frames = 0; window.__bench.events = { flow: 0, alert: 0, stats: 0 }; });
  const t0 = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const b = await page.evaluate(() => window.__bench);
  const stats = await page.evaluate(async () => (await fetch('/api/v1/stats')).json());
  const busy = b.longTasks.reduce((a, d) => a + d, 0) / (elapsed * 1000);
  console.log(JSON.stringify({
    seconds: Number(elapsed.toFixed(1)),
    detector_flows_per_sec: Math.round(stats.pipeline?.flows_per_sec ?? 0),
    flows_scored: stats.pipeline?.scored,
    page_flow_events_per_sec: Number((b.events.flow / elapsed).toFixed(1)),
    page_alert_events_per_sec: Number((b.events.alert / elapsed).toFixed(1)),
    frames_per_sec: Number((b.frames / elapsed).toFixed(1)),
    long_tasks: b.longTasks.length,
    longest_task_ms: Math.round(Math.max(0, ...b.longTasks)),
    long_task_share: Number(busy.toFixed(4)),
  }, null, 1));
} finally {
  await browser.close();
}
