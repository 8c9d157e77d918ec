import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../deps';

/** Routes for Twilio status callbacks (being built; none are served yet). */
export const twilioRoutes = new OpenAPIHono<AppEnv>();
