/**
 * The API answers the center reads, taken from the typed client generated from /openapi.json
 * (clients/typescript), so a change to the API that breaks the page fails `tsc -p web`.
 */
import type { components } from '../../../clients/typescript/src/schema';

type Schemas = components['schemas'];

export type PreferencesDocument = Schemas['Preferences'];
/** GET /v1/recipients/{externalId}/preferences/matrix */
export type PreferenceMatrix = Schemas['PreferenceMatrix'];
export type MatrixCategory = PreferenceMatrix['categories'][number];
/** GET/PATCH /v1/recipients/{externalId}/delivery-settings */
export type DeliverySettings = Schemas['DeliverySettings'];
export type Digest = NonNullable<DeliverySettings['digest']>;
/** GET /v1/me with an end-user token. */
export type Me = Schemas['MeEndUser'];
