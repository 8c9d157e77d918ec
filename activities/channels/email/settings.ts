import { z } from 'zod';
import { blankAsUnset } from '../../../common/config';
import { sharedSettings } from '../../../common/shared-settings';
import { smtpUrlProblem } from './index';

const atLeastOne = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

/** The email channel's variables, parsed with the worker's configuration. */
export const emailSettings = {
  /** The operator's SMTP server; a plain-text URL to a remote host stops the worker at start. */
  SMTP_URL: blankAsUnset(
    z.string().superRefine((url, ctx) => {
      const problem = smtpUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
  /** Pooled connections per SMTP server (the operator's, and each tenant's). */
  SMTP_MAX_CONNECTIONS: atLeastOne(5),
  /** Most per-tenant SMTP transports a worker keeps open (least recently used closed beyond it). */
  SMTP_TENANT_TRANSPORTS_MAX: atLeastOne(50),
  /** true: a tenant without SMTP settings of its own gets its email deliveries skipped, never SMTP_URL (the API reads it too). */
  TENANT_SMTP_REQUIRED: sharedSettings.TENANT_SMTP_REQUIRED,
  MAIL_FROM: z.string().min(1).default('Herald <noreply@herald.local>'),
};
