// Reads the YAML configuration, applies the deploy-time environment overrides,
// validates once and returns a deeply frozen object. Every error names the path of the
// offending field and what is wrong with it.
import { deepFreeze } from '../core/deep-freeze.js';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { KeywardError } from '../core/keyward-error.js';
import { configSchema, type Config } from './config-schema.js';

/** Deploy-time settings that an environment variable may override. */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: readonly string[]; type: 'string' | 'int' }> = [
  { env: 'KEYWARD_DATA_SOCKET', path: ['server', 'data_socket', 'path'], type: 'string' },
  { env: 'KEYWARD_SOCKET_GROUP', path: ['server', 'data_socket', 'group'], type: 'string' },
  { env: 'KEYWARD_ADMIN_SOCKET', path: ['server', 'admin_socket', 'path'], type: 'string' },
  { env: 'KEYWARD_SHUTDOWN_GRACE_MS', path: ['server', 'shutdown_grace_ms'], type: 'int' },
  { env: 'KEYWARD_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
];

type Env = Readonly<Record<string, string | undefined>>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case 'invalid_value':
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      return `${where}: ${issue.input === undefined ? 'required' : `expected ${issue.expected}`}`;
    case 'invalid_key':
      return `${where}: invalid name: ${issue.issues.map((i) => i.message).join('; ')}`;
    case 'invalid_union': {
      // A discriminated union (e.g. backends.<name>.type) names its allowed values.
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options)) return `${where}: expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
      return `${where}: ${issue.message}`;
    }
    default:
      return `${where}: ${issue.message}`;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: Env): string[] {
  const problems: string[] = [];
  for (const { env: name, path, type } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (type === 'int') {
      if (!/^\d+$/.test(value)) {
        problems.push(`${name}: expected a whole number, got "${value}"`);
        continue;
      }
      setPath(raw, path, Number.parseInt(value, 10));
    } else {
      setPath(raw, path, value);
    }
  }
  return problems;
}

/** Validates a configuration object (already parsed from YAML) with overrides. */
export function parseConfig(raw: unknown, env: Env = {}, source = 'configuration'): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw KeywardError.invalidArgument(`${source}: expected a YAML mapping at the top level`);
  }
  const copy = structuredClone(raw) as Record<string, unknown>;
  const problems = applyEnvOverrides(copy, env);
  // reportInput keeps `input` on the issues: formatIssue tells a missing field (input
  // undefined) from a field of the wrong type by it. Zod 4 drops it otherwise.
  const result = configSchema.safeParse(copy, { reportInput: true });
  if (!result.success) problems.push(...result.error.issues.map(formatIssue));
  if (problems.length > 0 || !result.success) {
    throw KeywardError.invalidArgument(`${source} is invalid:\n  ${problems.join('\n  ')}`);
  }
  return deepFreeze(result.data);
}

/** Reads, validates and freezes the configuration file at `file`. */
export function loadConfig(file: string, env: Env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw KeywardError.invalidArgument(`cannot read configuration ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw KeywardError.invalidArgument(`${file}: YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return parseConfig(doc.toJS(), env, file);
}
