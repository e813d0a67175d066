// The console's browser tests share this: Debian's Chromium driven by playwright-core (the console's
// own development package), axe-core's serious and critical violations, screenshots and recorded
// figures that reach docs/console/ only when asked (SYNCFLOW_RECORD=1, so an ordinary test run leaves
// the tree clean), and `syncflow console` started against a control plane.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserType, Page } from 'playwright-core';
import { repoRoot } from './controlplane.ts';

/** Resolves the console's own packages (playwright-core, axe-core). */
export const consoleRequire = createRequire(join(repoRoot, 'console/package.json'));
export const CHROMIUM = '/usr/bin/chromium';

/** Whether this run writes screenshots and figures into docs/ (SYNCFLOW_RECORD=1). */
export const recording = process.env.SYNCFLOW_RECORD === '1';
const SHOTS = recording ? join(repoRoot, 'docs/console') : join(tmpdir(), 'syncflow-console-shots');

/** Builds the console (hack/console.sh) when console/dist is missing. */
export async function ensureConsoleBuilt(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(join(repoRoot, 'console/dist/index.html')))
    await promisify(execFile)('bash', [join(repoRoot, 'hack/console.sh')], { maxBuffer: 64 * 1024 * 1024 });
}

/** Headless Chromium with a fresh profile; `webgl` keeps software WebGL (SwiftShader) available. */
export async function launchChromium(options: { webgl?: boolean } = {}): Promise<Browser> {
  const { chromium } = consoleRequire('playwright-core') as { chromium: BrowserType };
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      ...(options.webgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu']),
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** axe-core's serious and critical violations on the page (rule id and the first offending node). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: consoleRequire.resolve('axe-core/axe.min.js') });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(): Promise<{
            violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }>;
          }>;
        };
      }
    ).axe;
    return (await axe.run()).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      target: JSON.stringify(v.nodes[0]?.target),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} ${v.target}`);
}

/** Photographs the page as docs/console/<name>.png (into a temporary folder unless recording). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), type: 'png' });
}

/**
 * Writes measured figures as docs/console/<file> with the machine and its load beside them (when
 * recording; otherwise only printed, so the committed figures change only when someone measures).
 */
export function recordFigures(file: string, browser: Browser, figures: Record<string, unknown>): void {
  const text = `${JSON.stringify(
    {
      measuredAt: new Date().toISOString(),
      browser: browser.version(),
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
      cpus: cpus().length,
      ...figures,
    },
    null,
    2,
  )}\n`;
  if (recording) {
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, file), text);
  } else console.log(`      figures (${file}, not recorded without SYNCFLOW_RECORD=1):\n${text}`);
}

/** Prints what the page showed when a test failed, and keeps a screenshot in the temporary folder. */
export async function reportFailure(page: Page | undefined, test: Mocha.Test | undefined): Promise<void> {
  if (test?.state !== 'failed' || !page) return;
  const file = join(tmpdir(), `console-e2e-failure-${Date.now()}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  const text = await page
    .locator('body')
    .innerText()
    .catch(() => '');
  console.log(`      page at failure (${page.url()}, ${file}):\n${text.slice(0, 1500)}`);
}

/** `syncflow console` started with a kubeconfig: its URL (with the per-launch secret) and the process. */
export interface LocalConsole {
  url: string;
  origin: string;
  process: ChildProcess;
  stop(): void;
}

/** Starts `syncflow console --kubeconfig <file> --port 0` and waits for the URL it prints. */
export async function startConsoleCommand(kubeconfig: string): Promise<LocalConsole> {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin/syncflow.js'), 'console', '--kubeconfig', kubeconfig, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /open (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('exit', (code) => reject(new Error(`syncflow console exited ${code}: ${out}`)));
  });
  return { url, origin: new URL(url).origin, process: child, stop: () => child.kill('SIGTERM') };
}

/**
 * A fresh Chromium with one page of the given size that has visited the console at `local.url`: that
 * first visit carries the per-launch secret, which becomes a cookie for the pages visited after it.
 */
export async function openConsolePage(
  local: LocalConsole,
  viewport: { width: number; height: number },
): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(local.url);
    return { browser, page };
  } catch (error) {
    // The suite's after() never sees this browser: close it here.
    await browser.close();
    throw error;
  }
}
