/**
 * What the providers on loopback actually received, per recipient: the fault suite's evidence for
 * "nothing lost, nothing sent twice". Counted from the servers, never from Herald's own log.
 */
export interface Ledger {
  expected: number;
  delivered: number;
  duplicates: number;
  lost: number;
  /** Copies whose dedupe id differs from the first copy's (should be none). */
  unrecognisable: number;
}

export function ledgerOf(
  expected: string[],
  received: { address: string; dedupeId?: string | null }[],
): Ledger {
  const wanted = new Set(expected.map((a) => a.toLowerCase()));
  const first = new Map<string, string | null>();
  let duplicates = 0;
  let unrecognisable = 0;
  for (const { address, dedupeId = null } of received) {
    const key = address.toLowerCase();
    if (!wanted.has(key)) continue;
    if (!first.has(key)) {
      first.set(key, dedupeId);
      continue;
    }
    duplicates++;
    if (first.get(key) !== dedupeId) unrecognisable++;
  }
  return {
    expected: wanted.size,
    delivered: first.size,
    duplicates,
    lost: wanted.size - first.size,
    unrecognisable,
  };
}

/** One line for the test output: `R1 worker SIGKILL: delivered 1000/1000, duplicates 3, lost 0`. */
export function printLedger(name: string, ledger: Ledger, extra = ''): void {
  console.log(
    `${name}: delivered ${ledger.delivered}/${ledger.expected}, duplicates ${ledger.duplicates}, lost ${ledger.lost}` +
      (ledger.unrecognisable ? `, ${ledger.unrecognisable} copies without the first copy's id` : '') +
      (extra ? ` (${extra})` : ''),
  );
}

/** Every mail the sink holds, one entry per envelope recipient, with its Message-ID. */
export function mailArrivals(messages: { envelopeTo: string[]; messageId: string }[]) {
  return messages.flatMap((m) => m.envelopeTo.map((address) => ({ address, dedupeId: m.messageId })));
}

/** Seconds for a fault, from the environment (the full suite on demand) or the CI default. */
export function faultSetting(name: string, ciDefault: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? ciDefault : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}
