/**
 * `herald doctor`, per-tenant SMTP: for each tenant with its own settings, whether its server takes
 * the stored login (✓), or what it said (✗). Never prints the password.
 */
import type { Pool } from 'pg';
import { smtpErrorText, verifySmtpLogin } from '../../activities/channels/email/tenant-check';
import { decodeSecretKey, isValidSecretKey, openSecret } from '../../common/secret-box';
import { parseStoredSmtpConfig } from '../../common/settings/smtp';
import { listTenantSettings } from '../../db/queries/tenant-settings';
import type { Check } from '../doctor';

/** One check per tenant with SMTP settings, named `email (tenant <id>)`; none when no tenant has any. */
export async function tenantSmtpChecks(
  db: Pool,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Check[]> {
  let rows;
  try {
    rows = await listTenantSettings(db, 'smtp');
  } catch (error) {
    const detail = `cannot read tenant_settings: ${(error as Error).message}`;
    return [{ name: 'email (tenants)', status: 'fail', detail, fix: 'run herald migrate' }];
  }
  const key =
    env.HERALD_SECRET_KEY && isValidSecretKey(env.HERALD_SECRET_KEY)
      ? decodeSecretKey(env.HERALD_SECRET_KEY)
      : null;
  const timeouts = { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs };
  return Promise.all(
    rows.map(async (row): Promise<Check> => {
      const name = `email (tenant ${row.tenantId})`;
      let password: string | null = null;
      try {
        const config = parseStoredSmtpConfig(row.tenantId, row.config);
        const where = `${config.host}:${config.port}`;
        if (row.sealedSecret !== null) {
          if (!key)
            return {
              name,
              status: 'fail',
              detail: `cannot open the stored password: HERALD_SECRET_KEY is not set or invalid`,
              fix: 'set the HERALD_SECRET_KEY the API and worker use',
            };
          password = openSecret(row.sealedSecret, key);
        }
        try {
          await verifySmtpLogin({ config, password }, timeouts);
        } catch (error) {
          const e = error as { code?: unknown; responseCode?: unknown };
          const auth = e.code === 'EAUTH' || e.responseCode === 535;
          return {
            name,
            status: 'fail',
            detail: `${where}: ${smtpErrorText(error, password)}`,
            fix: auth
              ? `the tenant must PUT /v1/settings/smtp with the right username and password`
              : `check that the tenant's SMTP server at ${where} runs and is reachable from here`,
          };
        }
        return {
          name,
          status: 'ok',
          detail: `${config.username ? `login ${config.username}` : 'no login'} accepted by ${where}`,
        };
      } catch (error) {
        return {
          name,
          status: 'fail',
          detail: smtpErrorText(error, password),
          fix: 'the tenant must PUT /v1/settings/smtp again',
        };
      }
    }),
  );
}
