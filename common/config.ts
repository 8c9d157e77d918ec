import { z } from 'zod';
import { isValidSecretKey } from './secret-box';

/** Parses a process's environment with its schema once; throws naming every bad variable. */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv,
  processName: string,
): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid ${processName} configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** An optional text variable where an empty value (`FOO=` in a .env file) means unset. */
export const blankAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/** HERALD_SECRET_KEY's value, checked the same way by every process that reads it. */
export const secretKeyText = z
  .string()
  .refine(isValidSecretKey, 'must be 32 bytes, written as 64 hex digits or as base64');
