// Writes a copy of a Twilio OpenAPI spec that Prism can check repeated form
// params against: OpenAPI's default for form bodies is style=form,
// explode=true (one `Key=value` per array item, as Twilio expects for e.g.
// StatusCallbackEvent), but Prism 5 applies it only when the spec declares an
// `encoding`, which Twilio's specs do not. Schemas are left untouched.
//
//   node scripts/prism-form-encoding.js IN.json OUT.json
'use strict';
const fs = require('fs');
const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: prism-form-encoding.js IN.json OUT.json');
  process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(input, 'utf8'));
let declared = 0;
for (const operations of Object.values(spec.paths || {})) {
  for (const operation of Object.values(operations)) {
    const form = operation && operation.requestBody && operation.requestBody.content
      && operation.requestBody.content['application/x-www-form-urlencoded'];
    const properties = form && form.schema && form.schema.properties;
    if (!properties) continue;
    for (const [name, schema] of Object.entries(properties)) {
      if (schema.type !== 'array') continue;
      form.encoding = form.encoding || {};
      form.encoding[name] = form.encoding[name] || { style: 'form', explode: true };
      declared += 1;
    }
  }
}
fs.writeFileSync(output, JSON.stringify(spec));
console.error(`prism-form-encoding: ${declared} array form params in ${input}`);
