import type { Transporter } from 'nodemailer';
import type { RenderedEmail } from '../../templates/registry';
import { mailFor } from '../lib/message';

export const BARE_NOTIFICATION_ID = 'bench-ceiling';

/** The ceiling's one activity: the message Herald sends, rendered once, into the sink. */
export function createBareActivities(transport: Transporter, email: RenderedEmail) {
  return {
    async sendOne(recipient: number): Promise<void> {
      await transport.sendMail(mailFor(email, recipient, BARE_NOTIFICATION_ID));
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
