import type { Client } from '@temporalio/client';
import type { Principal } from './auth/principal';
import type { Pool } from 'pg';
import type { TemplateRegistry } from '../templates/registry';
import type { ApiConfig } from './config';

/** Everything a request handler may use, built once by api/main.ts (or a test) and put on the context. */
export interface ApiDeps {
  db: Pool;
  temporal: Client;
  templates: TemplateRegistry;
  config: ApiConfig;
}

/** What createApp adds to the deps, once per process: HERALD_SECRET_KEY decoded (undefined when unset). */
export interface RequestDeps extends ApiDeps {
  secretKey: Buffer | undefined;
}

export type AppEnv = {
  Variables: {
    deps: RequestDeps;
    /** The caller's tenant: set by the route's access check (api/auth/access.ts), never from the request. */
    tenantId: string;
    principal: Principal;
    requestId: string;
  };
};
