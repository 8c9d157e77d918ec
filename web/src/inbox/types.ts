/**
 * The API answers the inbox reads, taken from the typed client generated from /openapi.json
 * (clients/typescript), so a change to the API that breaks the component fails `tsc -p web`.
 */
import type { components } from '../../../clients/typescript/src/schema';

type Schemas = components['schemas'];

export type InboxMessage = Schemas['InboxMessage'];
export type InboxPage = Schemas['InboxPage'];
/** Who an end-user token belongs to (GET /v1/me). */
export type EndUser = Schemas['MeEndUser'];
