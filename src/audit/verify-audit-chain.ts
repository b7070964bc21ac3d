// Checks an audit log's hash chain across its files (design.md §6, `keyward audit
// verify`) and reports the FIRST broken link with its file and line: a line that is not
// a record, a seq that skips or goes back, a prev that is not the SHA-256 of the line
// before it, a last line without its newline, a file listed out of order. An optional
// anchor (a head recorded elsewhere) also proves that nothing up to it was cut from the
// end — which the chain alone cannot (docs/audit.md, "What verification proves").
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { KeywardError } from '../core/keyward-error.js';
import {
  AUDIT_FIRST_SEQ,
  AUDIT_GENESIS_PREV,
  AUDIT_MAX_LINE_BYTES,
  auditLineHash,
  parseAuditLine,
  type AuditChainHead,
} from './audit-record.js';

export type AuditChainVerdict =
  | { readonly ok: true; readonly records: number; readonly files: number; readonly head: AuditChainHead }
  | { readonly ok: false; readonly file: string; readonly line: number; readonly reason: string };

export interface VerifyAuditChainOptions {
  /**
   * A chain head recorded earlier outside the files (seq and hash of that record's
   * line). The chain must contain that record with that hash; a chain that ends before
   * it was cut at the end.
   */
  readonly anchor?: AuditChainHead;
}

class Broken extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Verifies `files`, given oldest first (rotated files by suffix, then the active file).
 * Throws KeywardError('invalid-argument') for an empty list and ('not-found') for a file
 * that cannot be read; everything about the content is in the verdict.
 */
export async function verifyAuditChain(files: readonly string[], options: VerifyAuditChainOptions = {}): Promise<AuditChainVerdict> {
  if (files.length === 0) throw KeywardError.invalidArgument('no audit log files to verify');
  const firstSeqs = await Promise.all(files.map(readFirstSeq));
  const state: ChainState = { expected: AUDIT_FIRST_SEQ, prev: AUDIT_GENESIS_PREV, prevAt: '', records: 0, anchorSeen: false };
  const anchor = options.anchor;
  if (anchor !== undefined && anchor.seq === 0) {
    if (anchor.hash !== AUDIT_GENESIS_PREV) throw KeywardError.invalidArgument('an anchor at seq 0 must carry the genesis value');
    state.anchorSeen = true;
  }
  let lastFile = files[0]!;
  let lastLines = 0;
  try {
    for (const [index, file] of files.entries()) {
      lastFile = file;
      lastLines = await verifyFile(file, state, (seq) => diagnoseFileStart(files, firstSeqs, index, seq, state), anchor);
    }
  } catch (err) {
    if (err instanceof Broken) return { ok: false, file: err.file, line: err.line, reason: err.reason };
    throw err;
  }
  if (anchor !== undefined && !state.anchorSeen) {
    return {
      ok: false,
      file: lastFile,
      line: lastLines + 1,
      reason: `the chain ends at seq ${state.expected - 1}, before the anchored record seq ${anchor.seq}: records were removed from the end`,
    };
  }
  return { ok: true, records: state.records, files: files.length, head: { seq: state.expected - 1, hash: state.prev } };
}

interface ChainState {
  /** seq the next record must have. */
  expected: number;
  /** hash of the previous line (genesis before the first). */
  prev: string;
  /** where the previous record is, for messages ("file:line"). */
  prevAt: string;
  records: number;
  anchorSeen: boolean;
}

/** Reads `file` line by line and checks each record against the chain so far; returns its line count. */
async function verifyFile(
  file: string,
  state: ChainState,
  diagnoseStart: (seq: number) => string,
  anchor: AuditChainHead | undefined,
): Promise<number> {
  let lineNo = 0;
  let carry: Buffer = Buffer.alloc(0);
  const check = (lineWithNewline: Buffer): void => {
    lineNo += 1;
    const record = parseAuditLine(lineWithNewline.subarray(0, lineWithNewline.byteLength - 1));
    if ('error' in record) throw new Broken(file, lineNo, record.error);
    if (record.seq !== state.expected) {
      let reason: string;
      if (lineNo === 1) reason = diagnoseStart(record.seq);
      else if (record.seq > state.expected) reason = `seq gap: expected ${state.expected}, found ${record.seq} (records were removed or reordered)`;
      else reason = `seq out of order: expected ${state.expected}, found ${record.seq} (records were reordered or repeated)`;
      throw new Broken(file, lineNo, reason);
    }
    if (record.prev !== state.prev) {
      throw new Broken(
        file,
        lineNo,
        state.records === 0
          ? 'the first record of the chain does not carry the genesis prev value'
          : `prev does not match the SHA-256 of the previous record (${state.prevAt}): that record, or this one, was altered`,
      );
    }
    const hash = auditLineHash(lineWithNewline);
    if (anchor !== undefined && record.seq === anchor.seq) {
      if (hash !== anchor.hash) throw new Broken(file, lineNo, `record seq ${record.seq} does not match the anchor's hash: it was altered after the anchor was taken`);
      state.anchorSeen = true;
    }
    state.prev = hash;
    state.prevAt = `${file}:${lineNo}`;
    state.expected += 1;
    state.records += 1;
  };

  let stream;
  try {
    stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf = carry.byteLength > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
        check(buf.subarray(start, nl + 1));
        start = nl + 1;
      }
      carry = buf.subarray(start);
      if (carry.byteLength > AUDIT_MAX_LINE_BYTES) throw new Broken(file, lineNo + 1, `a line longer than ${AUDIT_MAX_LINE_BYTES} bytes (corrupt)`);
    }
  } catch (err) {
    if (err instanceof Broken) throw err;
    throw new KeywardError('not-found', `cannot read ${file} (${(err as Error).message})`, { cause: err });
  } finally {
    stream?.destroy();
  }
  if (carry.byteLength > 0) throw new Broken(file, lineNo + 1, 'truncated: the last line has no terminating newline');
  return lineNo;
}

/** Why the first record of `files[index]` does not have the expected seq. */
function diagnoseFileStart(files: readonly string[], firstSeqs: readonly (number | undefined)[], index: number, seq: number, state: ChainState): string {
  const laterIndex = firstSeqs.findIndex((s, j) => j > index && s === state.expected);
  if (laterIndex !== -1) {
    return `file out of order: the chain continues with seq ${state.expected} at the start of ${files[laterIndex]}, which is listed after this file`;
  }
  if (state.records === 0) {
    return `the chain does not start at seq ${AUDIT_FIRST_SEQ}: this file starts at seq ${seq} (earlier files or records are missing)`;
  }
  if (seq > state.expected) {
    return `seq gap: expected ${state.expected}, found ${seq} at the start of this file (a file, or records at the end of the previous one, are missing)`;
  }
  return `seq out of order: expected ${state.expected}, found ${seq} at the start of this file (files listed out of order or twice)`;
}

/** seq of a file's first line, when it has a readable one (for out-of-order diagnostics only). */
async function readFirstSeq(file: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new KeywardError('not-found', `cannot read ${file} (${(err as Error).message})`, { cause: err });
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.byteLength, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl === -1) return undefined;
    const record = parseAuditLine(buf.subarray(0, nl));
    return 'error' in record ? undefined : record.seq;
  } catch {
    return undefined; // verifyFile reports what is wrong with this file
  } finally {
    await handle.close();
  }
}
