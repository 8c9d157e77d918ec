interface OpenApiDoc {
  info: { title: string; version: string; description?: string };
  paths: Record<
    string,
    Record<
      string,
      { summary?: string; tags?: string[]; 'x-herald-scope'?: string; 'x-herald-end-user'?: boolean }
    >
  >;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

function scopeCell(op: { 'x-herald-scope'?: string; 'x-herald-end-user'?: boolean }): string {
  const scope = op['x-herald-scope'];
  if (!scope) return '<em>public</em>';
  return `<code>${escapeHtml(scope)}</code>${op['x-herald-end-user'] ? ' <em>+ end user</em>' : ''}`;
}

/** A self-contained docs page (no CDN: it must work offline) listing every route of the OpenAPI document. */
export function renderDocsPage(doc: OpenApiDoc): string {
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) =>
        `<tr><td><code class="m ${method}">${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td>` +
        `<td>${escapeHtml(op.tags?.join(', ') ?? '')}</td><td>${scopeCell(op)}</td><td>${escapeHtml(op.summary ?? '')}</td></tr>`,
    ),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}.m{font-weight:bold}.get{color:#0a7}.post{color:#06c}
.put{color:#a60}.delete{color:#c22}</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3). Errors are JSON:
<code>{"error":{"code","message","details":[{"path","message"}]}}</code>.</p>
<p>Authentication: every <code>/v1</code> route but the public ones takes <code>Authorization: Bearer &lt;API key&gt;</code>;
the Scope column says which scope the key needs (<em>+ end user</em>: that person's end-user token works too;
<em>public</em>: no key, the route checks a signature of its own).</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Tag</th><th>Scope</th><th>Summary</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
</body></html>`;
}
