/**
 * The embeddable inbox: `<script src="https://herald.example.com/embed/herald-inbox.js"></script>`
 * defines `<herald-inbox token="heu_…">`. Without an `api` attribute the element talks to the
 * origin this script was loaded from. See docs/embedding.md.
 */
import { HeraldInboxElement, setDefaultApiBase } from './element';

// Read while this classic script runs: currentScript is null once it has finished.
const script = document.currentScript;
if (script instanceof HTMLScriptElement && script.src) setDefaultApiBase(new URL(script.src).origin);

if (!customElements.get('herald-inbox')) customElements.define('herald-inbox', HeraldInboxElement);

declare global {
  interface HTMLElementTagNameMap {
    'herald-inbox': HeraldInboxElement;
  }
}
