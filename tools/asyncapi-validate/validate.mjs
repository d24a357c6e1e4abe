// Validate an AsyncAPI document with the reference parser (@asyncapi/parser), outside the gateway.
// Usage: node validate.mjs path/to/asyncapi.yaml
// Exits 1 and lists every diagnostic of severity error; warnings are printed, never fatal.
//
// Relative file $refs ("./olp-message-boot.json") resolve from the document's own path.
// The parser ships schema parsers for AsyncAPI schemas and JSON Schema draft-07 only, so a
// payload in "application/schema+json;version=draft-2020-12" gets one registered here: Ajv's
// 2020-12 mode checks each (already dereferenced) payload schema against the 2020-12
// meta-schema and compiles it. Parser 3.x calls a schema parser's validate() for AsyncAPI 2
// documents only; for 3.0 it calls parse() on every payload, so parse() runs the same checks
// and its findings are reported as errors next to the parser's own diagnostics.
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import parserPackage from '@asyncapi/parser';

const { Parser, fromFile, DiagnosticSeverity } = parserPackage;

const DRAFT_2020_12 = [
  'application/schema+json;version=draft-2020-12',
  'application/schema+yaml;version=draft-2020-12',
];

// The custom formats of OLP are annotations to other tools (see gateway/spec.py).
const ajv = new Ajv2020({
  allErrors: true,
  strict: false,
  formats: { 'date-time': true, 'olp-parcel-id': true },
});

function schemaProblems(input) {
  const where = [...input.path];
  if (!ajv.validateSchema(input.data)) {
    return ajv.errors.map((e) => ({
      message: `not a valid draft 2020-12 schema: ${e.instancePath || '/'} ${e.message}`,
      path: where,
    }));
  }
  try {
    ajv.compile(input.data);
  } catch (err) {
    return [{ message: `schema does not compile: ${err.message}`, path: where }];
  }
  return [];
}

const payloadProblems = [];
const jsonSchema202012 = {
  getMimeTypes: () => DRAFT_2020_12,
  async validate(input) {
    return schemaProblems(input);
  },
  async parse(input) {
    payloadProblems.push(...schemaProblems(input));
    return input.data;
  },
};

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

async function main(file) {
  if (!file) {
    console.error('usage: node validate.mjs <asyncapi.yaml>');
    return 2;
  }
  const parser = new Parser();
  parser.registerSchemaParser(jsonSchema202012);
  const parsed = await fromFile(parser, resolve(file)).parse();
  const ours = payloadProblems.map((p) => ({ ...p, code: 'draft-2020-12-schema', severity: DiagnosticSeverity.Error }));
  const diagnostics = [...parsed.diagnostics, ...ours];
  const { document } = parsed;
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const at = d.path.length ? d.path.join('/') : '(document)';
    const stream = d.severity === DiagnosticSeverity.Error ? console.error : console.log;
    stream(`${SEVERITY[d.severity] ?? d.severity} [${d.code}] ${at}: ${d.message}`);
  }
  if (errors.length || !document) {
    console.error(`${file}: INVALID, ${errors.length} error(s)`);
    return 1;
  }
  const ops = document.operations().length;
  const msgs = document.components().messages().length;
  console.log(`${file}: valid AsyncAPI ${document.version()} (${ops} operations, ${msgs} messages)`);
  return 0;
}

process.exitCode = await main(process.argv[2]);
