import type { OpenApiDocument } from '../../api/openapi';
import { currentOpenApiDocument } from '../../scripts/lib/openapi-document';

interface Operation {
  description?: string;
  'x-herald-scope'?: string;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * What a /v1 operation lacks: a 2xx answer, a schema for each 2xx answer with a body (204 has
 * none), a schema for its request body, a line saying who may call it.
 */
function documentGaps(doc: OpenApiDocument): string[] {
  const gaps: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const name = `${method.toUpperCase()} ${path}`;
      const success = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
      if (success.length === 0) gaps.push(`${name}: no 2xx response`);
      for (const [status, response] of success) {
        if (status === '204') continue;
        const media = Object.values(response.content ?? {});
        if (!media.some((m) => m.schema)) gaps.push(`${name}: ${status} response without a schema`);
      }
      if (op.requestBody) {
        const media = Object.entries(op.requestBody.content ?? {});
        if (media.length === 0 || media.some(([, m]) => !m.schema))
          gaps.push(`${name}: request body without a schema`);
      }
      const access = op['x-herald-scope'] ? `Requires scope \`${op['x-herald-scope']}\`` : 'Public:';
      if (!op.description?.includes(access)) gaps.push(`${name}: description does not say "${access}"`);
    }
  }
  return gaps;
}

describe('the OpenAPI document', () => {
  let doc: OpenApiDocument;
  beforeAll(async () => {
    doc = await currentOpenApiDocument();
  });

  it('gives every /v1 operation request and response schemas and says who may call it', () => {
    const operations = Object.entries(doc.paths ?? {}).filter(([path]) => path.startsWith('/v1/'));
    expect(operations.length).toBeGreaterThan(50);
    expect(documentGaps(doc)).toEqual([]);
  });

  it('finds the gaps it looks for', () => {
    const broken = {
      ...doc,
      paths: {
        '/v1/things': {
          post: {
            'x-herald-scope': 'manage',
            requestBody: { content: { 'application/json': {} } },
            responses: { '201': { description: 'made' } },
          },
          delete: { responses: { '204': { description: 'gone' } } },
          get: {
            'x-herald-scope': 'read',
            description: 'Requires scope `read`.',
            responses: { '400': { description: 'bad' } },
          },
        },
      },
    } as unknown as OpenApiDocument;
    expect(documentGaps(broken)).toEqual([
      'GET /v1/things: no 2xx response',
      'POST /v1/things: 201 response without a schema',
      'POST /v1/things: request body without a schema',
      'POST /v1/things: description does not say "Requires scope `manage`"',
      'DELETE /v1/things: description does not say "Public:"',
    ]);
  });

  it('declares the bearer scheme and carries the README examples', () => {
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.info.description).toContain('curl -s -X POST http://127.0.0.1:3000/v1/notifications');
    expect(doc.info.description).toContain('Idempotency-Key');
    const send = doc.paths?.['/v1/notifications']?.post as Operation & {
      requestBody: { content: Record<string, { example?: { event?: string } }> };
    };
    expect(send.requestBody.content['application/json']?.example?.event).toBe('ticket.assigned');
    expect(send.description).toContain('Requires scope `send`.');
  });
});
