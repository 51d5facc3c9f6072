// node validate.js SCHEMA file... — validates each file against the SARIF
// 2.1.0 JSON schema (draft-04) with Ajv; prints every error; exit 1 if any.
'use strict';
const fs = require('fs');
const Ajv = require('ajv-draft-04');
const [schemaPath, ...files] = process.argv.slice(2);
// unicodeRegExp off: the official schema's "language" pattern has a stray "]"
// that is legal in a plain RegExp but not with the u flag.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
// The schema's "format" keywords (uri, uri-reference, date-time) are checked too.
require('ajv-formats')(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
let bad = 0;
for (const f of files) {
  const doc = JSON.parse(fs.readFileSync(f, 'utf8'));
  if (!validate(doc)) {
    bad++;
    for (const e of validate.errors) console.error(`${f}: ${e.instancePath || '/'} ${e.message}`);
  } else {
    console.log(`${f}: valid SARIF 2.1.0`);
  }
}
process.exit(bad ? 1 : 0);
