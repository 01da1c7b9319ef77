/**
 * The demo policies shipped in `demo/policies.yaml` (policy YAML format v1),
 * for `rowgate demo` to import. The path is resolved from this module so it
 * works both from `src/demo` (tsx, tests) and from `dist/demo` (build).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePolicyDocument, type PolicyDocument } from '../policy/document.js';

export const DEMO_POLICIES_PATH = fileURLToPath(new URL('../../demo/policies.yaml', import.meta.url));

export function readDemoPoliciesText(): string {
  return readFileSync(DEMO_POLICIES_PATH, 'utf8');
}

/** Parsed and validated demo policies; throws if the shipped file is broken. */
export function loadDemoPolicies(): PolicyDocument {
  const result = parsePolicyDocument(readDemoPoliciesText());
  if (!result.ok) throw new Error(`${DEMO_POLICIES_PATH}: ${result.error}`);
  const [first] = result.errors;
  if (first)
    throw new Error(`${DEMO_POLICIES_PATH}: policies[${first.index}].${first.field}: ${first.error}`);
  return result.document;
}
