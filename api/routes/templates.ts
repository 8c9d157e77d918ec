import { OpenAPIHono, z } from '@hono/zod-openapi';
import { TemplateRenderError } from '../../templates/registry';
import { securedRoute } from '../auth/access';
import type { AppEnv } from '../deps';
import { HttpError, notFound, validationFailed } from '../errors';
import {
  errorResponse,
  identifier,
  jsonBody,
  jsonResponse,
  PreviewRequestSchema,
  PreviewSchema,
  TemplateSchema,
} from '../schemas';

const params = z.object({ event: identifier('event', 'ticket.assigned') });

const listRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/templates',
    tags: ['templates'],
    summary: 'The template catalogue',
    responses: { 200: jsonResponse(z.object({ items: z.array(TemplateSchema) }), 'Every template') },
  },
);

const getRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'get',
    path: '/v1/templates/{event}',
    tags: ['templates'],
    summary: "One template's manifest",
    request: { params },
    responses: { 200: jsonResponse(TemplateSchema, 'The manifest'), 404: errorResponse('No such template') },
  },
);

const previewRoute = securedRoute(
  { scope: 'read' },
  {
    method: 'post',
    path: '/v1/templates/{event}/preview',
    tags: ['templates'],
    summary: 'Render a template without sending',
    request: { params, body: jsonBody(PreviewRequestSchema, 'Data to render with') },
    responses: {
      200: jsonResponse(PreviewSchema, 'The rendered message'),
      400: errorResponse('Malformed request'),
      404: errorResponse('No such template'),
      422: errorResponse('Missing or mistyped variables'),
    },
  },
);

export const templateRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, (c) => {
    const { templates } = c.var.deps;
    return c.json({ items: templates.events().map((e) => templates.manifest(e)!) }, 200);
  })
  .openapi(getRoute, (c) => {
    const { event } = c.req.valid('param');
    const manifest = c.var.deps.templates.manifest(event);
    if (!manifest) throw notFound(`template ${event}`);
    return c.json(manifest, 200);
  })
  .openapi(previewRoute, (c) => {
    const { event } = c.req.valid('param');
    const { templates } = c.var.deps;
    const manifest = templates.manifest(event);
    if (!manifest) throw notFound(`template ${event}`);
    const body = c.req.valid('json');
    const data = body.data ?? manifest.sample;
    const problems = templates.checkData(event, data, {
      allowLoopbackUrls: c.var.deps.config.HERALD_ALLOW_LOOPBACK_URLS === 'true',
    });
    if (problems.length > 0)
      throw validationFailed(problems.map((p) => ({ path: `data.${p.variable}`, message: p.message })));
    try {
      const email = templates.renderEmail(event, {
        data,
        recipient: {
          name: body.recipient?.name ?? 'Preview Recipient',
          email: body.recipient?.email ?? 'preview@example.com',
          externalId: null,
        },
        brand: { name: c.var.deps.config.BRAND_NAME },
        notification: {
          id: '00000000-0000-0000-0000-000000000000',
          event,
          priority: manifest.defaultPriority,
        },
      });
      return c.json({ event, email }, 200);
    } catch (error) {
      if (error instanceof TemplateRenderError)
        throw new HttpError(422, error.code, error.message, [{ path: 'data', message: error.message }]);
      throw error;
    }
  });
