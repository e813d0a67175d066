/** Request headers as a two-column table (name, value), the values in code type. */
export function HeaderTable({
  headers,
  caption,
  hideCaption = false,
}: {
  headers: [string, string][];
  caption: string;
  /** Keeps the caption for screen readers only, where the section around it already says what it is. */
  hideCaption?: boolean;
}) {
  return (
    <div className="table-wrap">
      <table>
        <caption className={hideCaption ? 'sr-only' : undefined}>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Header</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {headers.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>
                <code>{value}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
