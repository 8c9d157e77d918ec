import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../deps';

/** Routes for web push subscriptions and the VAPID public key (being built; none are served yet). */
export const pushRoutes = new OpenAPIHono<AppEnv>();
