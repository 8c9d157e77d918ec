/** An explanation in sentences: the `story` of the explain answer, and what `herald explain` prints. */
import type { ChannelStory } from './explain-channels';
import type { Explanation } from './explain';
import type { LevelResolution } from './explain-resolution';

const levelName = (level: number) => (level === 0 ? 'the notification' : `escalation level ${level}`);

function whoLine(e: Omit<Explanation, 'story'>): string {
  const r = e.recipient;
  if (r.kind === 'person') {
    const name = r.name ? ` (${r.name})` : '';
    const found = r.matchedBy === 'address' ? `, found by the address ${r.query}` : '';
    return `Recipient ${r.externalId}${name}${found}.`;
  }
  if (r.kind === 'address') return `Raw address ${r.address} (no single recipient has it).`;
  return `Recipient '${r.query}': unknown in this tenant.`;
}

function resolutionLines(level: LevelResolution): string[] {
  const where = levelName(level.level);
  const lines = level.via.map((via) => {
    if (via.kind === 'recipient') return `Resolved for ${where}: named directly in the request.`;
    if (via.kind === 'group')
      return `Resolved for ${where} through group ${via.group!.name} (key ${via.group!.key}, member since ${via.group!.memberSince}).`;
    return `Resolved for ${where}: the request lists the address ${via.address}.`;
  });
  for (const reason of level.reasons)
    lines.push(`${level.status === 'resolved' ? 'Note' : 'Not told'} (${where}): ${reason.message}.`);
  return lines;
}

/** What the attempts before the one that went out were told, e.g. ` (attempt 1: SMTP 451 …)`. */
function earlier(c: ChannelStory): string {
  const failed = c.attempts.history.filter((a) => a.outcome !== 'sent');
  return failed.length
    ? ` (${failed.map((a) => `attempt ${a.attempt}: ${a.answer ?? 'no answer'}`).join('; ')})`
    : '';
}

function channelLine(c: ChannelStory): string {
  const at = c.level > 0 ? ` [escalation level ${c.level}]` : '';
  const to = c.address ? ` → ${c.address}` : '';
  const tries = c.attempts.count === 1 ? '1 attempt' : `${c.attempts.count} attempts`;
  const provider = c.attempts.providerStatus ? `; provider says ${c.attempts.providerStatus}` : '';
  const held = c.heldUntil ? ` (held by quiet hours until ${c.heldUntil})` : '';
  const failover = c.failoverFrom ? ` as failover after ${c.failoverFrom}` : '';
  const head = `${c.channel}${at}${to}:`;
  switch (c.decision) {
    case 'sent':
    case 'delivered':
      return `${head} ${c.decision} at ${c.attempts.sentAt ?? '?'}${failover}${held} after ${tries}${earlier(c)}${provider}.`;
    case 'failed':
      return `${head} failed after ${tries}: ${c.reason ?? 'no reason recorded'}${provider}.`;
    case 'retrying':
      return `${head} retrying after ${tries}; last answer: ${c.reason ?? 'none'}.`;
    case 'pending':
      return `${head} waiting to be sent.`;
    case 'quiet_hours':
      return `${head} held by quiet hours until ${c.heldUntil}.`;
    case 'digest':
      return `${head} in the recipient's digest${c.digest?.sentAt ? `, sent at ${c.digest.sentAt}` : ' (not sent yet)'}.`;
    case 'failover_standby':
      return `${head} not used: ${c.reason}; the first channel did not fail.`;
    case 'preference':
      return `${head} not sent: preference rule — ${c.reason}.`;
    case 'unsubscribed':
    case 'suppression_list':
      return `${head} not sent: ${c.reason}.`;
    case 'deduped':
      return `${head} not sent: a duplicate of notification ${c.duplicateOf} within its dedupe window.`;
    case 'throttled':
      return `${head} not sent: ${c.reason}.`;
    case 'merged':
      return `${head} no message of their own: ${c.reason}.`;
    default:
      return `${head} ${c.status}${c.reason ? `: ${c.reason}` : ''}.`;
  }
}

export function explainStory(e: Omit<Explanation, 'story'>, escalates: boolean): string[] {
  const n = e.notification;
  const lines = [
    `Notification ${n.id} (${n.event}, ${n.priority}) created ${n.createdAt}, status ${n.status}.`,
    whoLine(e),
    ...e.resolution.flatMap(resolutionLines),
    ...e.channels.map(channelLine),
  ];
  if (e.escalation) {
    const fired = e.escalation.fired.length > 0 ? `fired: ${e.escalation.fired.join(', ')}` : 'none fired';
    const reached =
      e.escalation.reachedAt.length > 0 ? `; reached them at ${e.escalation.reachedAt.join(', ')}` : '';
    lines.push(
      `Escalation: ${e.escalation.levels.length} level(s) × ${e.escalation.repeat + 1} pass(es), ${fired}${reached}.`,
    );
  }
  if (escalates) {
    const a = e.acknowledgement;
    lines.push(
      a.state === 'acknowledged'
        ? `Acknowledged by ${a.by} at ${a.at}.`
        : a.state === 'unknown'
          ? 'Acknowledgement: unknown (the workflow could not be asked).'
          : 'Not acknowledged.',
    );
  }
  lines.push(`Outcome: ${e.outcome.replace('_', ' ')}.`);
  return lines;
}
