/** A JSON Schema as a table of its fields: path, type, required, allowed values, default, description. */
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  format?: string;
}

interface Row {
  path: string;
  schema: JsonSchema;
  required: boolean;
}

function rows(schema: JsonSchema, prefix = '', depth = 0): Row[] {
  const result: Row[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    result.push({ path, schema: child, required: schema.required?.includes(key) ?? false });
    if (depth < 6) {
      if (child.properties) result.push(...rows(child, path, depth + 1));
      if (child.items?.properties) result.push(...rows(child.items, `${path}[]`, depth + 1));
    }
  }
  return result;
}

export function SchemaTable({ schema, caption }: { schema: unknown; caption: string }) {
  if (!schema || typeof schema !== 'object')
    return <p className="state empty">{caption}: no schema (any JSON).</p>;
  const list = rows(schema as JsonSchema);
  if (!list.length)
    return (
      <p className="state empty">
        {caption}: {String((schema as JsonSchema).type ?? 'any')} with no declared fields.
      </p>
    );
  return (
    <div className="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Type</th>
            <th scope="col">Required</th>
            <th scope="col">Allowed / default</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {list.map((r) => (
            <tr key={r.path}>
              <th scope="row">
                <code>{r.path}</code>
              </th>
              <td>
                {[r.schema.type ?? 'any'].flat().join(' | ')}
                {r.schema.items?.type ? ` of ${String(r.schema.items.type)}` : ''}
                {r.schema.format ? ` (${r.schema.format})` : ''}
              </td>
              <td>{r.required ? 'yes' : 'no'}</td>
              <td>
                {r.schema.enum ? r.schema.enum.map((v) => JSON.stringify(v)).join(', ') : ''}
                {r.schema.default !== undefined ? ` default ${JSON.stringify(r.schema.default)}` : ''}
              </td>
              <td>{r.schema.description ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
