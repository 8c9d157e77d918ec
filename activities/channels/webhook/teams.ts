import type { RenderContext, RenderedCard, TemplateRegistry } from '../../../templates/registry';

/** What the Teams preset renders: a title, a text and a link, or why there is none. */
export interface TeamsContent {
  teamsCard: RenderedCard | null;
  teamsCardProblem: string | null;
}

/** A Teams message carrying one Adaptive Card, as Workflows and incoming webhooks take it. */
export interface TeamsMessage {
  type: 'message';
  attachments: {
    contentType: 'application/vnd.microsoft.card.adaptive';
    contentUrl: null;
    content: {
      $schema: string;
      type: 'AdaptiveCard';
      version: '1.4';
      body: { type: 'TextBlock'; text: string; wrap: true; weight?: 'Bolder'; size?: 'Medium' }[];
      actions?: { type: 'Action.OpenUrl'; title: string; url: string }[];
    };
  }[];
}

/**
 * The card for Teams: the event's push card, else its in-app card, else the email subject (with the
 * SMS text, when there is one). Rendered for every webhook delivery but used only by Teams endpoints,
 * so a problem here is kept, not thrown.
 */
export function renderTeamsCard(
  templates: TemplateRegistry,
  event: string,
  context: RenderContext,
): TeamsContent {
  try {
    if (templates.supports(event, 'push'))
      return { teamsCard: templates.renderPush(event, context), teamsCardProblem: null };
    if (templates.supports(event, 'inapp'))
      return { teamsCard: templates.renderInapp(event, context), teamsCardProblem: null };
    if (!templates.has(event)) return { teamsCard: null, teamsCardProblem: `${event} has no template` };
    const { subject } = templates.renderEmail(event, context);
    const body = templates.supports(event, 'sms') ? templates.renderSms(event, context) : '';
    return { teamsCard: { title: subject, body, url: null }, teamsCardProblem: null };
  } catch (error) {
    return { teamsCard: null, teamsCardProblem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * TextBlocks read a Markdown subset (bold, italic, lists, `[links](…)`): data must never be able to
 * write a link or change the formatting, so the characters that would are escaped (CommonMark `\`),
 * and a list or quote marker at the start.
 */
export const teamsEscape = (text: string): string =>
  text
    .replace(/[\\*_~`[\]<>]/g, (c) => `\\${c}`)
    .replace(/^(\s*)([#>+-])(?=\s)/, '$1\\$2')
    .replace(/^(\s*\d+)\.(?=\s)/, '$1\\.');

/** Only http(s) links become a button; anything else stays out of the card. */
function openUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The message a Teams endpoint receives: an Adaptive Card 1.4 with the title, the text and a link button. */
export function teamsMessage(card: RenderedCard): TeamsMessage {
  const body: TeamsMessage['attachments'][number]['content']['body'] = [
    { type: 'TextBlock', text: teamsEscape(card.title), weight: 'Bolder', size: 'Medium', wrap: true },
  ];
  if (card.body) body.push({ type: 'TextBlock', text: teamsEscape(card.body), wrap: true });
  const url = openUrl(card.url);
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          ...(url ? { actions: [{ type: 'Action.OpenUrl' as const, title: 'Open', url }] } : {}),
        },
      },
    ],
  };
}
