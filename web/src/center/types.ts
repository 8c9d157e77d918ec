/** The shapes of the API answers the center reads (see /openapi.json). */

/** Channel name → on/off (Preferences in /openapi.json; rules in common/preferences.ts). */
export type ChannelSwitches = Record<string, boolean>;

export interface EventRule {
  enabled?: boolean;
  channels?: ChannelSwitches;
  filters?: Record<string, (string | number | boolean)[]>;
}

export interface PreferencesDocument {
  channels?: ChannelSwitches;
  events?: Record<string, EventRule>;
  emailOverride?: string | null;
  unsubscribed?: { email?: string[] };
}

export interface MatrixCell {
  send: boolean;
  reason: string | null;
}

export interface MatrixEvent {
  event: string;
  description: string;
  critical: boolean;
  criticalReason: string | null;
  channels: Record<string, MatrixCell>;
}

export interface MatrixCategory {
  category: string;
  /** `category:<name>`, its key in the preferences' `events`. */
  key: string;
  events: MatrixEvent[];
}

/** GET /v1/recipients/{externalId}/preferences/matrix */
export interface PreferenceMatrix {
  channels: string[];
  categories: MatrixCategory[];
}

export interface Digest {
  events: string[];
  frequency: 'hourly' | 'daily' | 'weekly';
  hour?: number;
  weekday?: number;
}

/** GET/PATCH /v1/recipients/{externalId}/delivery-settings */
export interface DeliverySettings {
  timezone: string | null;
  quietHours: { start: string; end: string } | null;
  digest: Digest | null;
}

/** GET /v1/me with an end-user token. */
export interface Me {
  kind: string;
  externalId: string;
  expiresAt: string;
}
