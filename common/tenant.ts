/** The only tenant until multi-tenancy lands; the migration creates it. */
export const DEFAULT_TENANT = 'default';
