import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './deps';

/** The document as the generator returns it: loose, since this module only rewrites a few fields. */
export type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>['getOpenAPIDocument']>;

interface Operation {
  description?: string;
  'x-herald-scope'?: string;
  'x-herald-end-user'?: boolean;
  requestBody?: { content?: Record<string, { example?: unknown }> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** The README's first steps, shown on top of the API reference. */
const GUIDE = `Durable notification delivery: every notification is a Temporal workflow.

## Authentication

Every \`/v1\` route takes \`Authorization: Bearer <key>\`: an API key (\`hk_…\`, from \`herald tenants create\`,
\`herald keys create\` or \`POST /v1/api-keys\`). Each operation says which **scope** the key needs; a missing,
unknown or revoked key is \`401\`, a key without the scope \`403\`. A person's own routes (inbox, live stream,
preferences, push subscriptions) also take that person's end-user token (\`heu_…\`, from
\`POST /v1/recipients/{externalId}/tokens\`). Public operations check a signature of their own.

## Send a notification

\`\`\`bash
curl -s -X POST http://127.0.0.1:3000/v1/notifications \\
  -H 'content-type: application/json' \\
  -H "Authorization: Bearer $(cat .data/api-key)" \\
  -H 'Idempotency-Key: readme-example-1' \\
  -d '{"event":"ticket.assigned","to":{"groups":["Technical Admin"]},"data":{"ticketId":"42","title":"Printer on fire"}}'
\`\`\`

The answer is \`202\` with the notification's id. Then:

\`\`\`bash
KEY="Authorization: Bearer $(cat .data/api-key)"
curl -s -H "$KEY" http://127.0.0.1:3000/v1/notifications/<id>     # status, per recipient and channel
curl -s -H "$KEY" 'http://127.0.0.1:3000/v1/deliveries?event=ticket.assigned&status=sent'   # the delivery log
\`\`\`

The same request again with the same \`Idempotency-Key\` returns the same notification and sends nothing
(\`Idempotent-Replayed: true\`); the same key with another body is \`422 idempotency_key_reused\`.

## Errors

Errors are JSON and name the field:
\`{"error":{"code":"validation_failed","message":"…","details":[{"path":"to.groups[0]","message":"unknown group 'Nope'"}]}}\`.
Unknown event, group or recipient and missing template variables are \`422\`; malformed input is \`400\`; a body
over the limit is \`413\`; a request line and headers over 16 KB are \`431 headers_too_large\`. Nothing is recorded
or started when a request is refused.

## Typed client

\`clients/typescript\` (\`@herald/client\`) is generated from this document:

\`\`\`ts
import { createHeraldClient } from '@herald/client';

const herald = createHeraldClient({ baseUrl: 'http://127.0.0.1:3000', token: process.env.HERALD_API_KEY! });
const { data, error } = await herald.POST('/v1/notifications', {
  body: { event: 'ticket.assigned', to: { groups: ['Technical Admin'] }, data: { ticketId: '42', title: 'Printer on fire' } },
  params: { header: { 'idempotency-key': 'readme-example-1' } },
});
\`\`\`
`;

export const OPENAPI_CONFIG = {
  openapi: '3.0.3',
  info: { title: 'Herald', version: '0.1.0', description: GUIDE },
} as const;

/** Request examples, by operation, where the schema's own field examples do not make a whole body. */
const REQUEST_EXAMPLES: Record<string, unknown> = {
  'post /v1/notifications': {
    event: 'ticket.assigned',
    to: { recipients: ['tech-42'], groups: ['Technical Admin'], emails: ['ops@example.com'] },
    data: { ticketId: '123', title: 'Printer not working', priority: 'high' },
    priority: 'normal',
  },
};

/** The access line of an operation; securedRoute writes it already, other routes get it here. */
function accessNote(op: Operation): string {
  const scope = op['x-herald-scope'];
  if (!scope) return 'Public: no API key (the route checks a signature of its own).';
  const who = op['x-herald-end-user'] ? ` (or that person's end-user token)` : '';
  return `Requires scope \`${scope}\`${who}.`;
}

/**
 * Every operation's description says who may call it (Scalar shows descriptions, not `x-` fields),
 * and the README's examples ride along; one pass over the generated document, not route by route.
 */
export function finishDocument(doc: OpenApiDocument): OpenApiDocument {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const note = accessNote(op);
      const description = op.description ?? '';
      if (!description.includes(note)) op.description = description ? `${description}\n\n${note}` : note;
      const example = REQUEST_EXAMPLES[`${method} ${path}`];
      const json = op.requestBody?.content?.['application/json'];
      if (example !== undefined && json) json.example = example;
    }
  }
  return doc;
}

/** The document `/openapi.json` serves, the reference renders and the typed client is generated from. */
export function openApiDocument(app: OpenAPIHono<AppEnv>): OpenApiDocument {
  return finishDocument(app.getOpenAPIDocument(OPENAPI_CONFIG));
}
