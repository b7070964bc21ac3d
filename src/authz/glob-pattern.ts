// Key id and executable patterns in policy rules: literal text where `*` matches any run
// of characters (including none). Compiled once per policy load; a pattern without `*`
// is compared as a string. Matching never backtracks more than once per star (the
// classic two-pointer wildcard match: O(pattern × value) at worst), so no pattern and no
// value a caller controls can make it slow — unlike a regular expression.

export type GlobMatcher = (value: string) => boolean;

/** Whether `value` matches `pattern`, where `*` is the only wildcard. */
function wildcardMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function compileGlob(pattern: string): GlobMatcher {
  if (!pattern.includes('*')) return (value) => value === pattern;
  if (/^\*+$/.test(pattern)) return () => true;
  return (value) => wildcardMatch(pattern, value);
}

/** True when any of the matchers accepts the value. */
export function anyGlob(matchers: readonly GlobMatcher[], value: string): boolean {
  for (const matches of matchers) if (matches(value)) return true;
  return false;
}
