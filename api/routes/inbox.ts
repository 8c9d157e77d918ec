import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../deps';

/** Routes for the in-app inbox and its live stream (being built; none are served yet). */
export const inboxRoutes = new OpenAPIHono<AppEnv>();
