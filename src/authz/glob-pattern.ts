// Key id and executable patterns in policy rules: literal text where `*` matches any run
// of characters (including none). Compiled once per policy load; a pattern without `*`
// is compared as a string.

export type GlobMatcher = (value: string) => boolean;

const REGEXP_SPECIALS = /[.+?^${}()|[\]\\/]/g;

export function compileGlob(pattern: string): GlobMatcher {
  if (!pattern.includes('*')) return (value) => value === pattern;
  if (/^\*+$/.test(pattern)) return () => true;
  const source = pattern
    .split('*')
    .map((part) => part.replace(REGEXP_SPECIALS, '\\$&'))
    .join('.*');
  const regexp = new RegExp(`^${source}$`, 's');
  return (value) => regexp.test(value);
}

/** True when any of the matchers accepts the value. */
export function anyGlob(matchers: readonly GlobMatcher[], value: string): boolean {
  for (const matches of matchers) if (matches(value)) return true;
  return false;
}
