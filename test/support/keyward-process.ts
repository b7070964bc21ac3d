// keyward as an operator runs it, for tests: `keyward serve` in its own process with a
// configuration file written from the test defaults, its output captured, and helpers
// to wait for it to serve or to say something; any other `keyward` command run to its end.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { testConfigObject } from './test-daemon.js';

export const MAIN = join(process.cwd(), 'dist/src/cli/main.js');

export interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

export function writeConfig(dir: string, overrides: Record<string, unknown> = {}): string {
  const file = join(dir, 'keyward.yaml');
  writeFileSync(file, stringify(testConfigObject(dir, { log: { level: 'info' }, ...overrides })));
  return file;
}

export function startProcess(configFile: string): Running {
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startServing(configFile: string): Promise<Running> {
  const running = startProcess(configFile);
  await waitFor(() => running.output().includes('keyward serving') || running.child.exitCode !== null, 'keyward serving');
  if (running.child.exitCode !== null) throw new Error(`daemon exited: ${running.output()}`);
  return running;
}

/** Runs `keyward ARGS…` to its end: its exit status and output. */
export function runKeyward(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}
