/**
 * Lookups over the saved catalog and the column anchors, shared by the
 * virtual-catalog builder and the anchor walk. Keys are upstream names,
 * compared exactly (case-sensitive, like targets).
 */
import type { AnchorInput, CatalogSchemaInput, CatalogTableInput } from './inputs.js';

export interface IndexedTable {
  schema: string;
  /** Alias when set, else the upstream name. */
  visibleSchema: string;
  /** Schema and table selected: a candidate for the virtual catalog. */
  selected: boolean;
  table: CatalogTableInput;
  /** Every discovered column, selected or not: what filters may reference. */
  columnNames: ReadonlySet<string>;
}

export interface CatalogIndex {
  /** Every discovered table, in (schema, table) order. */
  tables: readonly IndexedTable[];
  table(schema: string, table: string): IndexedTable | undefined;
  anchor(schema: string, table: string, column: string): AnchorInput | undefined;
  visibleSchema(schema: string): string;
}

// NUL cannot occur in PostgreSQL identifiers, so the joined key is unambiguous.
const key = (...parts: string[]) => parts.join('\u0000');
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function indexCatalog(
  catalog: readonly CatalogSchemaInput[],
  anchors: readonly AnchorInput[],
): CatalogIndex {
  const tables: IndexedTable[] = [];
  const schemaNames = new Map<string, string>();
  for (const s of [...catalog].sort((a, b) => byName(a.name, b.name))) {
    const visibleSchema = s.alias ? s.alias : s.name;
    schemaNames.set(s.name, visibleSchema);
    for (const t of [...s.tables].sort((a, b) => byName(a.name, b.name))) {
      tables.push({
        schema: s.name,
        visibleSchema,
        selected: s.selected !== false && t.selected !== false,
        table: t,
        columnNames: new Set(t.columns.map((c) => c.name)),
      });
    }
  }
  const tableMap = new Map(tables.map((t) => [key(t.schema, t.table.name), t]));
  const anchorMap = new Map(anchors.map((a) => [key(a.schema, a.table, a.column), a]));
  return {
    tables,
    table: (schema, table) => tableMap.get(key(schema, table)),
    anchor: (schema, table, column) => anchorMap.get(key(schema, table, column)),
    visibleSchema: (schema) => schemaNames.get(schema) ?? schema,
  };
}
