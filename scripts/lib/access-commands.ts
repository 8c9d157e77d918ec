/** `herald tenants …` and `herald keys …`: the operator's side of tenants and API keys. */
import type { Pool } from 'pg';
import { isScope, TENANT_KEY_SCOPES, type Scope } from '../../common/api-keys';
import { CHANNELS, type ChannelName } from '../../common/types';
import { withTransaction } from '../../db/pool';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '../../db/queries/api-keys';
import { getTenant, listTenants, setTenantDailyQuotas, type Tenant } from '../../db/queries/tenants';
// Pure database work and zod schemas: the CLI and the API create tenants and validate ids alike.
import { ApiKeyRequestSchema, TenantRequestSchema } from '../../api/routes/access-schemas';
import { createTenantWithKey } from '../../api/services/tenancy';
import {
  checkTenant,
  CliError,
  expectArgs,
  formatTable,
  inputError,
  printJson,
  requireTenant,
  shift,
  usageError,
  withDatabase,
  type Args,
} from './cli';

export const ACCESS_USAGE = `  tenants create <id> [--name N] [--json]
                                  create a tenant and its first key (scopes send, read, manage, admin);
                                  the key is printed once and stored only as a hash
  tenants list [--json]           list tenants with their live key count and daily quotas
  tenants set-quota <id> <channel>=<n>|<channel>=default ... [--json]
                                  set the tenant's own sends per UTC day on a channel (default: the
                                  operator's DAILY_QUOTA_<CHANNEL>)
  keys create --tenant <id> --scopes send,read[,manage,admin,critical] [--name N] [--json]
                                  create a key for a tenant; printed once
  keys create --operator [--name N] [--json]
                                  create an operator key (schedules and tenants; only the CLI makes these)
  keys list --tenant <id>|--operator [--json]
                                  list keys: id, name, prefix, scopes, created, last used, revoked
  keys revoke <id> [--json]       revoke a key; every API process refuses it from the next request on`;

/** Postgres `integer`, which the usage counters are. */
const MAX_QUOTA = 2_147_483_647;

export async function runTenants(args: Args): Promise<void> {
  const [action] = args.positionals;
  const sub = shift(args);
  switch (action) {
    case 'create':
      expectArgs(sub, 'tenants create', 1, ['--name', '--json']);
      return createTenantCommand(sub);
    case 'list':
      expectArgs(sub, 'tenants list', 0, ['--json']);
      return withDatabase(async (pool) => printTenants(await listTenants(pool), sub.flags.has('--json')));
    case 'set-quota':
      expectArgs(sub, 'tenants set-quota', { min: 2 }, ['--json']);
      return setQuotaCommand(sub);
    case undefined:
      throw usageError('tenants: say create, list or set-quota');
    default:
      throw usageError(`unknown command "tenants ${action}"`);
  }
}

export async function runKeys(args: Args): Promise<void> {
  const [action] = args.positionals;
  const sub = shift(args);
  switch (action) {
    case 'create':
      expectArgs(sub, 'keys create', 0, ['--tenant', '--operator', '--scopes', '--name', '--json']);
      return createKeyCommand(sub);
    case 'list':
      expectArgs(sub, 'keys list', 0, ['--tenant', '--operator', '--json']);
      return listKeysCommand(sub);
    case 'revoke':
      expectArgs(sub, 'keys revoke', 1, ['--json']);
      return revokeKeyCommand(sub);
    case undefined:
      throw usageError('keys: say create, list or revoke');
    default:
      throw usageError(`unknown command "keys ${action}"`);
  }
}

/** zod's first problem as `command: field: message`. */
function invalid(command: string, issues: { path: PropertyKey[]; message: string }[]): CliError {
  const issue = issues[0]!;
  const field = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return inputError(`${command}: ${field}${issue.message}`);
}

async function createTenantCommand(args: Args): Promise<void> {
  const id = args.positionals[0]!;
  const name = args.values.get('--name');
  const parsed = TenantRequestSchema.safeParse({ id, ...(name === undefined ? {} : { name }) });
  if (!parsed.success) throw invalid('tenants create', parsed.error.issues);
  const created = await withDatabase((pool) => createTenantWithKey(pool, id, name));
  if (!created) throw new CliError(`tenants create: tenant "${id}" exists already`, 1);
  if (args.flags.has('--json')) return printJson(created);
  console.log(
    [
      `created tenant ${created.tenant}; its key (shown this once, stored only as a hash):`,
      `  ${created.key}`,
      `key id ${created.keyId}, scopes ${created.scopes.join(', ')}`,
    ].join('\n'),
  );
}

function printTenants(tenants: Tenant[], json: boolean): void {
  if (json) return printJson(tenants);
  if (tenants.length === 0) return console.log('no tenants yet; add one with: herald tenants create <id>');
  const quotas = (t: Tenant) =>
    Object.entries(t.dailyQuotas)
      .map(([channel, n]) => `${channel}=${n}`)
      .join(',') || '-';
  console.log(
    formatTable(
      ['ID', 'NAME', 'CREATED', 'KEYS', 'QUOTAS'],
      tenants.map((t) => [t.id, t.name, t.createdAt, String(t.activeKeys), quotas(t)]),
    ),
  );
}

/** `sms=500` sets, `sms=default` removes the tenant's own quota (the operator's default applies again). */
function parseQuotas(pairs: string[]): Map<ChannelName, number | 'default'> {
  const changes = new Map<ChannelName, number | 'default'>();
  for (const pair of pairs) {
    const match = /^([^=]+)=(.*)$/.exec(pair);
    if (!match) throw inputError(`tenants set-quota: "${pair}" must look like <channel>=<n>`);
    const [, channel, value] = match as unknown as [string, string, string];
    if (!(CHANNELS as readonly string[]).includes(channel))
      throw inputError(`tenants set-quota: unknown channel "${channel}" (one of ${CHANNELS.join(', ')})`);
    if (changes.has(channel as ChannelName)) throw inputError(`tenants set-quota: ${channel} is given twice`);
    if (value !== 'default' && !(/^\d+$/.test(value) && Number(value) <= MAX_QUOTA))
      throw inputError(
        `tenants set-quota: ${pair}: the quota must be a whole number from 0 to ${MAX_QUOTA}, or default`,
      );
    changes.set(channel as ChannelName, value === 'default' ? 'default' : Number(value));
  }
  return changes;
}

async function setQuotaCommand(args: Args): Promise<void> {
  const [id, ...pairs] = args.positionals as [string, ...string[]];
  const changes = parseQuotas(pairs);
  const quotas = await withDatabase((pool) =>
    withTransaction(pool, async (client) => {
      // Locked, so two concurrent set-quota calls merge instead of one losing the other's change.
      const locked = await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [id]);
      if (locked.rowCount === 0) throw inputError(`unknown tenant "${id}" (herald tenants list shows them)`);
      const merged = { ...(await getTenant(client, id))!.dailyQuotas };
      for (const [channel, n] of changes) {
        if (n === 'default') delete merged[channel];
        else merged[channel] = n;
      }
      await setTenantDailyQuotas(client, id, merged);
      return merged;
    }),
  );
  if (args.flags.has('--json')) return printJson({ tenant: id, dailyQuotas: quotas });
  const shown = Object.entries(quotas).map(([c, n]) => `${c}=${n}`);
  console.log(
    `tenant ${id}: daily quotas ${shown.length ? shown.join(', ') : '(none of its own)'}; other channels use DAILY_QUOTA_<CHANNEL>`,
  );
}

/** `--tenant <id>` or `--operator`, exactly one. */
function keyOwner(args: Args, command: string): { operator: true } | { operator: false; tenant: string } {
  const tenant = args.values.get('--tenant');
  const operator = args.flags.has('--operator');
  if (operator && tenant !== undefined) throw usageError(`${command}: give --tenant or --operator, not both`);
  if (operator) return { operator: true };
  if (tenant === undefined) throw usageError(`${command}: say whose keys with --tenant <id> (or --operator)`);
  return { operator: false, tenant };
}

function parseScopes(value: string | undefined): Scope[] {
  const allowed = TENANT_KEY_SCOPES.join(', ');
  if (value === undefined)
    throw usageError(`keys create: say --scopes, e.g. --scopes send,read (of ${allowed})`);
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (scopes.length === 0) throw inputError(`keys create: --scopes needs at least one of ${allowed}`);
  for (const scope of scopes) {
    if (scope === 'operator')
      throw inputError('keys create: a tenant key cannot have the scope operator (use --operator)');
    if (!isScope(scope) || !(TENANT_KEY_SCOPES as readonly string[]).includes(scope))
      throw inputError(`keys create: unknown scope "${scope}" (one of ${allowed})`);
  }
  return [...new Set(scopes as Scope[])];
}

async function createKeyCommand(args: Args): Promise<void> {
  const owner = keyOwner(args, 'keys create');
  if (owner.operator && args.values.has('--scopes'))
    throw usageError('keys create: an operator key has the scope operator only; leave out --scopes');
  const scopes: Scope[] = owner.operator ? ['operator'] : parseScopes(args.values.get('--scopes'));
  const name = args.values.get('--name');
  if (name !== undefined) {
    const parsed = ApiKeyRequestSchema.shape.name.safeParse(name);
    if (!parsed.success) throw invalid('keys create: --name', parsed.error.issues);
  }
  const { key, info } = await withDatabase(async (pool) => {
    const tenantId = owner.operator ? null : await checkTenant(pool, owner.tenant);
    return createApiKey(pool, {
      tenantId,
      name: name ?? (owner.operator ? 'operator key' : 'cli key'),
      scopes,
    });
  });
  if (args.flags.has('--json'))
    return printJson({
      id: info.id,
      key,
      tenant: info.tenantId,
      name: info.name,
      prefix: info.prefix,
      scopes: info.scopes,
    });
  console.log(
    [
      `created ${info.tenantId === null ? 'an operator key' : `a key for tenant ${info.tenantId}`} (shown this once, stored only as a hash):`,
      `  ${key}`,
      `key id ${info.id}, scopes ${info.scopes.join(', ')}`,
    ].join('\n'),
  );
}

async function listKeysCommand(args: Args): Promise<void> {
  const owner = keyOwner(args, 'keys list');
  const keys = await withDatabase(async (pool: Pool) =>
    listApiKeys(pool, owner.operator ? null : await requireTenant(pool, args, 'keys list')),
  );
  if (args.flags.has('--json')) return printJson(keys);
  if (keys.length === 0) return console.log('no keys');
  console.log(
    formatTable(
      ['ID', 'NAME', 'PREFIX', 'SCOPES', 'CREATED', 'LAST USED', 'REVOKED'],
      keys.map((k) => [
        k.id,
        k.name,
        k.prefix,
        k.scopes.join(','),
        k.createdAt,
        k.lastUsedAt ?? 'never',
        k.revokedAt ?? '-',
      ]),
    ),
  );
}

async function revokeKeyCommand(args: Args): Promise<void> {
  const id = args.positionals[0]!;
  const revoked: ApiKeyInfo | null = await withDatabase((pool) => revokeApiKey(pool, id));
  if (!revoked) throw inputError(`keys revoke: no key "${id}" (herald keys list shows them)`);
  if (args.flags.has('--json')) return printJson(revoked);
  const owner = revoked.tenantId === null ? 'operator key' : `key of tenant ${revoked.tenantId}`;
  console.log(`revoked ${owner} ${revoked.id} (${revoked.name}, ${revoked.prefix}…) at ${revoked.revokedAt}`);
}
