import { el } from './dom';

/** A polite live region under a section: "Saved", or what went wrong, read out by screen readers. */
export function statusLine(): { element: HTMLElement; say: (text: string, kind?: 'ok' | 'error') => void } {
  const element = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  return {
    element,
    say(text, kind = 'ok') {
      element.textContent = text;
      element.dataset.kind = kind;
    },
  };
}

/** What to tell the person when a request failed. */
export const describeError = (error: unknown) =>
  error instanceof Error ? `Not saved: ${error.message}` : 'Not saved: something went wrong.';
