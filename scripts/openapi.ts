/**
 * Writes docs/openapi.json from the zod schemas (npm run openapi). test/unit/openapi.test.ts fails
 * while the committed file differs from what this would write.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/lib/http/openapi.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json');
writeFileSync(out, openApiDocument().text);
console.log(`wrote ${out}`);
