// The random pool hands out every byte once, refills from the CSPRNG when spent, and
// wipes what it handed out.
import test from 'ava';
import { RandomPool } from '../../src/core/random-pool.js';

test('values drawn across several refills never repeat and are not all zero', (t) => {
  const pool = new RandomPool();
  const seen = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const out = Buffer.alloc(44);
    pool.fill(out, 0, 44);
    t.false(out.equals(Buffer.alloc(44)));
    seen.add(out.toString('hex'));
  }
  t.is(seen.size, 2_000, '88,000 bytes span several 16 KiB refills without a repeat');
});

test('fills at an offset without touching the rest, and serves requests larger than the pool', (t) => {
  const pool = new RandomPool();
  const out = Buffer.alloc(64, 0xaa);
  pool.fill(out, 10, 20);
  t.true(out.subarray(0, 10).equals(Buffer.alloc(10, 0xaa)));
  t.true(out.subarray(30).equals(Buffer.alloc(34, 0xaa)));
  const big = Buffer.alloc(40_000);
  pool.fill(big, 0, big.length);
  t.false(big.subarray(20_000, 20_064).equals(Buffer.alloc(64)));
});
