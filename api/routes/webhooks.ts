import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../deps';

/** Routes for webhook endpoint registration (being built; none are served yet). */
export const webhookRoutes = new OpenAPIHono<AppEnv>();
