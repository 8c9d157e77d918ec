import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from './deps';
import { formatPath, HttpError, validationFailed, type ErrorDetail } from './errors';

/**
 * Checks every /v1 request's input before any route sees it, for what no route schema says and
 * every route would otherwise have to: a NUL character (U+0000) in a string, which PostgreSQL cannot
 * store (it answers 500), and JSON nested so deep that a recursive walk of it (canonical-JSON
 * hashing, Liquid, zod) overflows the stack. Registered after authentication, so an anonymous caller
 * learns nothing but 401, and after the body limit, so it never reads an oversized body.
 */

/** Deepest nesting of arrays and objects a JSON body may have; `{}` is one level. */
export const MAX_JSON_DEPTH = 32;
/** Enough to name the fields; a body full of NULs needs no list of all of them. */
const MAX_DETAILS = 10;

const NUL = '\u0000';
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const NUL_MESSAGE = 'contains a NUL character (U+0000), which is not allowed';

export const inputGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  const problems = [...pathProblems(c), ...queryProblems(c.req.queries())];
  const contentType = c.req.header('content-type') ?? '';
  if (
    problems.length === 0 &&
    c.req.method !== 'GET' &&
    c.req.method !== 'HEAD' &&
    JSON_MEDIA_TYPE.test(contentType)
  ) {
    // Hono caches the text: the route's validator parses it again from the cache.
    const text = await c.req.text();
    if (text.trim() !== '') problems.push(...bodyProblems(text));
  }
  if (problems.length > 0) throw validationFailed(problems.slice(0, MAX_DETAILS), 400);
  await next();
};

/** NULs in path parameters, named as the route names them (`externalId`), `path` if no route matched. */
function pathProblems(c: Parameters<MiddlewareHandler<AppEnv>>[0]): ErrorDetail[] {
  const segments = new URL(c.req.url).pathname.split('/').map(decodeSegment);
  if (!segments.some((s) => s.includes(NUL))) return [];
  // The route that answers (middleware is registered for every method, routes for theirs).
  const route = [...matchedRoutes(c)].reverse().find((r) => r.method !== 'ALL');
  const template = route?.path.split('/') ?? [];
  return segments.flatMap((segment, i) => {
    if (!segment.includes(NUL)) return [];
    const name = /^:(\w+)/.exec(template[i] ?? '')?.[1] ?? 'path';
    return [{ path: name, message: NUL_MESSAGE }];
  });
}

const decodeSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes: the router and the route's validation deal with those
  }
};

function queryProblems(query: Record<string, string[]>): ErrorDetail[] {
  return Object.entries(query).flatMap(([name, values]) => {
    if (name.includes(NUL)) return [{ path: 'query', message: `a parameter name ${NUL_MESSAGE}` }];
    return values.some((v) => v.includes(NUL)) ? [{ path: name, message: NUL_MESSAGE }] : [];
  });
}

function bodyProblems(text: string): ErrorDetail[] {
  // Before parsing: JSON.parse copes with deep input, but what runs over the parsed value may not.
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
    return [{ path: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects` }];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'invalid_json', 'request body is not valid JSON', [
      { path: 'body', message: error instanceof Error ? error.message : String(error) },
    ]);
  }
  // A NUL can only be written as an escape inside a JSON string (a raw one is not valid JSON).
  return /\\u0000/i.test(text) ? nulsIn(value) : [];
}

/**
 * The deepest nesting of arrays and objects in a JSON text, counted in one pass without parsing (so
 * without recursion); stops once past `limit`. Brackets inside strings do not count.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: the next character is escaped
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** Where NULs are in a parsed body, walked with an explicit stack (its depth is bounded anyway). */
function nulsIn(root: unknown): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0 && problems.length < MAX_DETAILS) {
    const { value, path } = stack.pop()!;
    const at = formatPath(path) || 'body';
    if (typeof value === 'string') {
      if (value.includes(NUL)) problems.push({ path: at, message: NUL_MESSAGE });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      if (entries.some(([key]) => key.includes(NUL)))
        problems.push({ path: at, message: `a key ${NUL_MESSAGE}` });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        if (!key.includes(NUL)) stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return problems;
}
