/**
 * Failure types shared by activities (which throw them) and workflows (whose retry policies and
 * handlers refer to them). Strings, not class names, so bundling and minification cannot change them.
 */
export const ERROR_TYPES = {
  transientSendFailures: 'TransientSendFailures',
  unknownChannel: 'UnknownChannel',
  /** The delivery log could not be reached: the workflow resumes the batch later, without counting an attempt. */
  databaseUnavailable: 'DatabaseUnavailable',
} as const;
