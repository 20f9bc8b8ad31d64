import fs from 'node:fs';
import path from 'node:path';
import type { SecretRecord } from './run-record';

/** Where a secret turned up. Never holds the secret. */
export interface Finding {
  kind: string;
  file: string;
  /** 1-based. */
  line: number;
  /** The test that produced the line, when it was recorded. */
  test?: string;
}

interface Known {
  kind: string;
  /** Record ids of the responses allowed to hold it. */
  allowedIn: Set<string>;
}

/** The run's secrets, indexed for a scan that stays linear in what the suite produced. */
export class KnownSecrets {
  /** API keys by their whole text: found with one regex pass, however many keys the run made. */
  private readonly keys = new Map<string, Known>();
  /** Anything else, with the spellings it may take in a JSON line. */
  private readonly others = new Map<string, Known>();

  static readonly KEY = /nrv_[A-Za-z0-9_-]{32}/g;
  /** Shorter values are too likely to occur by chance to be worth a finding. */
  static readonly MIN_LENGTH = 12;

  constructor(records: Iterable<SecretRecord> = []) {
    for (const record of records) this.add(record);
  }

  add({ kind, value, allowedIn }: SecretRecord): void {
    if (value.length < KnownSecrets.MIN_LENGTH) return;
    const isKey = new RegExp(`^${KnownSecrets.KEY.source}$`).test(value);
    const spellings = isKey ? [value] : [value, escaped(value), escaped(escaped(value))];
    for (const spelling of new Set(spellings)) {
      const map = isKey ? this.keys : this.others;
      const known = map.get(spelling) ?? { kind, allowedIn: new Set<string>() };
      if (allowedIn) known.allowedIn.add(allowedIn);
      map.set(spelling, known);
    }
  }

  get size(): number {
    return this.keys.size + this.others.size;
  }

  /** Every place in `text` (the contents of `file`) where a secret appears outside its allowed response. */
  scan(text: string, file: string): Finding[] {
    const hits: Array<[number, Known]> = [];
    for (const match of text.matchAll(KnownSecrets.KEY)) {
      const known = this.keys.get(match[0]);
      if (known) hits.push([match.index, known]);
    }
    for (const [spelling, known] of this.others) {
      for (let at = text.indexOf(spelling); at !== -1; at = text.indexOf(spelling, at + 1))
        hits.push([at, known]);
    }
    if (!hits.length) return [];
    const starts = lineStarts(text);
    const findings = new Map<string, Finding>();
    for (const [offset, known] of hits) {
      const index = lineOf(starts, offset);
      const lineText = text.slice(starts[index], starts[index + 1] ?? text.length);
      const id = /^\{"id":"([0-9a-f]+)"/.exec(lineText)?.[1];
      if (id && known.allowedIn.has(id)) continue;
      const test = /"test":"((?:[^"\\]|\\.)*)"/.exec(lineText)?.[1];
      const finding: Finding = { kind: known.kind, file, line: index + 1, ...(test ? { test } : {}) };
      findings.set(`${finding.kind}:${finding.line}`, finding);
    }
    return [...findings.values()].sort((a, b) => a.line - b.line);
  }
}

/** How `value` reads inside a JSON string. */
function escaped(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The secrets recorded in a run directory. */
export function loadSecrets(dir: string): KnownSecrets {
  const secrets = new KnownSecrets();
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('secrets-'))) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (line) secrets.add(JSON.parse(line) as SecretRecord);
    }
  }
  return secrets;
}

/** Scans every file of a run directory but the secrets themselves. */
export function scanRunDir(dir: string): {
  findings: Finding[];
  secrets: number;
  files: number;
  bytes: number;
} {
  const secrets = loadSecrets(dir);
  const findings: Finding[] = [];
  let files = 0;
  let bytes = 0;
  for (const file of fs.readdirSync(dir).sort()) {
    if (file.startsWith('secrets-')) continue;
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    files++;
    bytes += text.length;
    findings.push(...secrets.scan(text, path.join(dir, file)));
  }
  return { findings, secrets: secrets.size, files, bytes };
}

/** A report naming each secret's kind and where it appeared: never the secret. */
export function describeFindings(findings: Finding[]): string {
  const shown = findings
    .slice(0, 50)
    .map((f) => `  ${f.kind} in ${f.file}:${f.line}${f.test ? ` (${f.test})` : ''}`);
  const more = findings.length > shown.length ? [`  … and ${findings.length - shown.length} more`] : [];
  return [
    `A secret appeared in what the suite produced (${findings.length} place${findings.length === 1 ? '' : 's'}):`,
    ...shown,
    ...more,
  ].join('\n');
}
