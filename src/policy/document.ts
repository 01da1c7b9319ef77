/**
 * The policy YAML document, format version 1 (api-contract §7.2): parsing,
 * validation and serialization. Pure, no I/O. Resolving names (datasource,
 * user, role, decision function) and checking expression grammar belong to
 * the importer; this module only checks shape.
 *
 * Validation is strict — unknown keys are errors — because the document is
 * policy-as-code and a misspelt key must not silently weaken a policy.
 */
import YAML, { isScalar } from 'yaml';
import { isPolicyType, POLICY_TYPES, validateTargets, type PolicyType, type TargetEntry } from './targets.js';

export type AssignmentScope = 'all' | 'user' | 'role';

export interface PolicyAssignmentSpec {
  /** Data source NAME. */
  datasource: string;
  scope: AssignmentScope;
  /** Username; set iff scope is `user`. */
  user: string | null;
  /** Role name; set iff scope is `role`. */
  role: string | null;
  priority: number;
}

export interface PolicyDocumentEntry {
  name: string;
  policy_type: PolicyType;
  description: string | null;
  is_enabled: boolean;
  targets: TargetEntry[];
  /** Only for row_filter / column_mask; null otherwise. Extra keys are kept (§6.2). */
  definition: Record<string, unknown> | null;
  /** Decision function NAME. */
  decision_function: string | null;
  /** null = key absent: import leaves the policy's assignments untouched (§7.4). */
  assignments: PolicyAssignmentSpec[] | null;
}

export interface PolicyDocument {
  version: 1;
  policies: PolicyDocumentEntry[];
}

export interface PolicyDocumentError {
  /** Position in `policies`. */
  index: number;
  /** The entry's name when it has a string one. */
  name: string | null;
  /** Path inside the entry, e.g. `targets[0].tables`, `assignments[1].datasource`; '' = the entry itself. */
  field: string;
  error: string;
}

/**
 * `ok: false` — the document as a whole is unusable (HTTP 400 on import).
 * `ok: true` — readable; `document.policies` holds the entries that passed,
 * `errors` everything wrong with the others (empty = fully valid).
 */
export type PolicyDocumentParseResult =
  { ok: true; document: PolicyDocument; errors: PolicyDocumentError[] } | { ok: false; error: string };

export const DEFAULT_PRIORITY = 100;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const DOCUMENT_KEYS = new Set(['version', 'policies']);
const POLICY_KEYS = new Set([
  'name',
  'policy_type',
  'description',
  'is_enabled',
  'targets',
  'definition',
  'decision_function',
  'assignments',
]);
const ASSIGNMENT_KEYS = new Set(['datasource', 'user', 'role', 'scope', 'priority']);
const EXPRESSION_KEY: Partial<Record<PolicyType, string>> = {
  row_filter: 'filter_expression',
  column_mask: 'mask_expression',
};

/** The policy name rule of POST /policies (§4.10); null when valid. */
export function policyNameError(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) return 'Policy name must be between 1 and 100 characters';
  if (trimmed !== name) return 'Policy name must not have leading or trailing whitespace';
  if (!/^[A-Za-z0-9 _\-.:()'"]+$/.test(name)) return 'Policy name contains invalid characters';
  return null;
}

const firstLine = (text: string): string => text.split('\n', 1)[0]!.replace(/:$/, '');

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parsePolicyDocument(text: string): PolicyDocumentParseResult {
  let root: unknown;
  try {
    const parsed = YAML.parseDocument(text, { uniqueKeys: true });
    // The first line carries the reason and position; the rest is a source excerpt.
    if (parsed.errors.length > 0)
      return { ok: false, error: `Invalid YAML: ${firstLine(parsed.errors[0]!.message)}` };
    root = parsed.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, error: `Invalid YAML: ${firstLine((err as Error).message)}` };
  }
  if (!isPlainObject(root)) return { ok: false, error: 'Policy document must be a YAML mapping' };
  const unknown = Object.keys(root).filter((k) => !DOCUMENT_KEYS.has(k));
  if (unknown.length > 0) return { ok: false, error: `Unknown key '${unknown[0]}' in policy document` };
  if (root.version == null) return { ok: false, error: "Missing 'version' (must be 1)" };
  if (root.version !== 1) {
    return {
      ok: false,
      error: `Unsupported policy document version ${JSON.stringify(root.version)} (must be 1)`,
    };
  }
  if (root.policies == null) return { ok: false, error: "Missing 'policies'" };
  if (!Array.isArray(root.policies)) return { ok: false, error: "'policies' must be a list" };

  const policies: PolicyDocumentEntry[] = [];
  const errors: PolicyDocumentError[] = [];
  const firstIndexByName = new Map<string, number>();
  root.policies.forEach((raw: unknown, index) => {
    const name = isPlainObject(raw) && typeof raw.name === 'string' ? raw.name : null;
    const report = (field: string, error: string) => errors.push({ index, name, field, error });
    const before = errors.length;
    const entry = validateEntry(raw, report);
    if (name !== null) {
      const first = firstIndexByName.get(name);
      if (first === undefined) firstIndexByName.set(name, index);
      else report('name', `Duplicate policy name '${name}' in document (first at policies[${first}])`);
    }
    if (entry && errors.length === before) policies.push(entry);
  });
  return { ok: true, document: { version: 1, policies }, errors };
}

type Report = (field: string, error: string) => void;

function validateEntry(raw: unknown, report: Report): PolicyDocumentEntry | null {
  if (!isPlainObject(raw)) {
    report('', 'Policy entry must be a mapping');
    return null;
  }
  for (const key of Object.keys(raw)) if (!POLICY_KEYS.has(key)) report(key, `Unknown key '${key}'`);

  let name: string | null = null;
  if (raw.name == null) report('name', "'name' is required");
  else if (typeof raw.name !== 'string') report('name', "'name' must be a string");
  else {
    const problem = policyNameError(raw.name);
    if (problem) report('name', problem);
    else name = raw.name;
  }

  let type: PolicyType | null = null;
  if (raw.policy_type == null) report('policy_type', "'policy_type' is required");
  else if (!isPolicyType(raw.policy_type)) {
    report(
      'policy_type',
      `Unknown policy_type ${JSON.stringify(raw.policy_type)} (one of ${POLICY_TYPES.join(', ')})`,
    );
  } else type = raw.policy_type;

  const description = optional(raw, 'description', 'string', report);
  const isEnabled = optional(raw, 'is_enabled', 'boolean', report);
  const decisionFunction = optional(raw, 'decision_function', 'string', report);
  if (decisionFunction === '') report('decision_function', "'decision_function' must not be empty");

  // Targets and definition are checked against the type; without one they cannot be.
  let targets: TargetEntry[] | null = null;
  let definition: Record<string, unknown> | null = null;
  if (type) {
    const checked = validateTargets(type, raw.targets, { strict: true });
    if (checked.ok) targets = checked.targets;
    else for (const issue of checked.issues) report(issue.path, issue.message);
    definition = validateDefinition(type, raw.definition, report);
  }

  const assignments = validateAssignments(raw.assignments, report);
  if (name === null || type === null || targets === null) return null;
  return {
    name,
    policy_type: type,
    description: description ?? null,
    is_enabled: isEnabled ?? true,
    targets,
    definition,
    decision_function: decisionFunction ?? null,
    assignments,
  };
}

/** Optional scalar: absent or null → undefined; wrong type → reported. */
function optional<T extends 'string' | 'boolean'>(
  raw: Record<string, unknown>,
  key: string,
  kind: T,
  report: Report,
): (T extends 'string' ? string : boolean) | undefined {
  const value = raw[key];
  if (value == null) return undefined;
  if (typeof value !== kind) {
    report(key, `'${key}' must be a ${kind}`);
    return undefined;
  }
  return value as T extends 'string' ? string : boolean;
}

function validateDefinition(type: PolicyType, raw: unknown, report: Report): Record<string, unknown> | null {
  const key = EXPRESSION_KEY[type];
  if (!key) {
    // The API stores a stray definition (quirk); a document never carries one.
    if (raw != null) report('definition', `'${type}' policy must not have a 'definition'`);
    return null;
  }
  if (!isPlainObject(raw)) {
    report('definition', `${type} policy requires a 'definition' with '${key}'`);
    return null;
  }
  if (raw[key] === undefined) report(`definition.${key}`, `${type}: missing required field '${key}'`);
  else if (typeof raw[key] !== 'string') report(`definition.${key}`, `${type}: '${key}' must be a string`);
  return { ...raw };
}

function validateAssignments(raw: unknown, report: Report): PolicyAssignmentSpec[] | null {
  if (raw == null) return null;
  if (!Array.isArray(raw)) {
    report('assignments', "'assignments' must be a list");
    return null;
  }
  const result: PolicyAssignmentSpec[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry: unknown, i) => {
    const at = `assignments[${i}]`;
    if (!isPlainObject(entry)) {
      report(at, 'Assignment must be a mapping');
      return;
    }
    let problems = 0;
    const fail = (field: string, error: string) => {
      problems++;
      report(field, error);
    };
    for (const key of Object.keys(entry))
      if (!ASSIGNMENT_KEYS.has(key)) fail(`${at}.${key}`, `Unknown key '${key}'`);

    const text = (key: 'datasource' | 'user' | 'role'): string | null => {
      const value = entry[key];
      if (value == null) return null;
      if (typeof value === 'string' && value.length > 0) return value;
      fail(`${at}.${key}`, `'${key}' must be a non-empty string`);
      return null;
    };
    const datasource = text('datasource');
    if (entry.datasource == null) fail(`${at}.datasource`, "'datasource' is required");
    const user = text('user');
    const role = text('role');
    if (user !== null && role !== null) fail(at, "Assignment must not have both 'user' and 'role'");

    // Scope is inferred like POST /datasources/{id}/policies; an explicit one must agree.
    const inferred: AssignmentScope = role !== null ? 'role' : user !== null ? 'user' : 'all';
    const scope = entry.scope ?? inferred;
    if (user !== null && role !== null) {
      // Already reported; scope checks would only repeat it.
    } else if (scope === 'user' || scope === 'role') {
      const other = scope === 'user' ? 'role' : 'user';
      if ((scope === 'user' ? user : role) === null)
        fail(`${at}.scope`, `scope '${scope}' requires ${scope}`);
      if (entry[other] != null) fail(`${at}.scope`, `scope '${scope}' must not have ${other}`);
    } else if (scope === 'all') {
      if (user !== null || role !== null) fail(`${at}.scope`, "scope 'all' must not have user or role");
    } else {
      fail(`${at}.scope`, "scope must be 'user', 'role', or 'all'");
    }

    const priority = entry.priority ?? DEFAULT_PRIORITY;
    if (
      typeof priority !== 'number' ||
      !Number.isInteger(priority) ||
      priority < INT32_MIN ||
      priority > INT32_MAX
    ) {
      fail(`${at}.priority`, "'priority' must be a 32-bit integer");
    }
    if (problems > 0 || datasource === null) return;

    // The importer matches assignments on datasource + scope + user/role; a repeat is ambiguous.
    const identity = JSON.stringify([datasource, scope, user ?? role]);
    const first = seen.get(identity);
    if (first !== undefined) {
      report(at, `Duplicate assignment (same datasource and scope as assignments[${first}])`);
      return;
    }
    seen.set(identity, i);
    result.push({ datasource, scope: scope as AssignmentScope, user, role, priority: priority as number });
  });
  return result;
}

/**
 * The export format (§7.3): keys with null values omitted, `definition` only
 * for types that have one, `scope` left implicit. Ordering of policies and
 * assignments is the caller's (export sorts them). Parses back to `doc`.
 */
export function serializePolicyDocument(doc: PolicyDocument): string {
  const policies = doc.policies.map((p) => {
    const out: Record<string, unknown> = { name: p.name, policy_type: p.policy_type };
    if (p.description != null) out.description = p.description;
    out.is_enabled = p.is_enabled;
    out.targets = p.targets.map((t) =>
      t.columns
        ? { schemas: t.schemas, tables: t.tables, columns: t.columns }
        : { schemas: t.schemas, tables: t.tables },
    );
    if (EXPRESSION_KEY[p.policy_type] && p.definition != null) out.definition = p.definition;
    if (p.decision_function != null) out.decision_function = p.decision_function;
    if (p.assignments != null) {
      out.assignments = p.assignments.map((a) => {
        const row: Record<string, unknown> = { datasource: a.datasource };
        if (a.scope === 'user') row.user = a.user;
        if (a.scope === 'role') row.role = a.role;
        row.priority = a.priority;
        return row;
      });
    }
    return out;
  });
  const yamlDoc = new YAML.Document({ version: 1, policies });
  // Pattern lists read best inline: `schemas: [public]`.
  YAML.visit(yamlDoc, {
    Seq(_, node) {
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return yamlDoc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
