// Package re is the predeclared re module of scripts (SPEC §11): Python's
// re on Go's regexp package (RE2 syntax and semantics), so that matching
// takes time linear in the text and no pattern can backtrack
// catastrophically. Python patterns are translated to RE2 first, so ported
// code keeps its patterns; what cannot be translated fails with an error
// naming the construct.
//
// # Builtins
//
//	re.compile(pattern, flags=0)                    a re.Pattern
//	re.search(pattern, string, flags=0)             a re.Match or None
//	re.match(pattern, string, flags=0)              a match at the start, or None
//	re.fullmatch(pattern, string, flags=0)          a match of the whole string, or None
//	re.findall(pattern, string, flags=0)            a list (see below)
//	re.finditer(pattern, string, flags=0)           a list of re.Match
//	re.sub(pattern, repl, string, count=0, flags=0) a str
//	re.subn(pattern, repl, string, count=0, flags=0) a tuple (str, number of replacements)
//	re.split(pattern, string, maxsplit=0, flags=0)  a list
//	re.escape(pattern)                              pattern with special characters escaped
//	re.purge()                                      empties the pattern cache
//
//	re.I, re.IGNORECASE   re.M, re.MULTILINE   re.S, re.DOTALL
//	re.X, re.VERBOSE      re.A, re.ASCII       re.U, re.UNICODE   re.NOFLAG
//
// The flags have Python's values and combine with |. pattern may be a
// compiled re.Pattern when flags is 0. As in Python: findall gives the
// whole matches when the pattern has no group, group 1 when it has one,
// and tuples of all groups when it has more ("" for a group that did not
// take part); sub's repl is a str, where \1 … \99, \g<1>, \g<name> and
// \g<0> are groups, \n and the like escapes and "$" is plain text, or a
// function of the match returning a str; a negative count or maxsplit
// changes nothing; empty matches are found, also next to a previous match
// (Python 3.7's rules): re.sub("x*", "-", "abxd") is "-a-b--d-".
//
// A re.Pattern p has p.search(string, pos=0, endpos=None), p.match,
// p.fullmatch, p.findall, p.finditer (the same parameters), p.sub(repl,
// string, count=0), p.subn, p.split(string, maxsplit=0), and p.pattern,
// p.flags (as Python reports them, re.UNICODE included), p.groups,
// p.groupindex (a frozen dict). Patterns with the same source and flags
// are equal, and hashable.
//
// A re.Match m has m.group(*groups) (no argument: the whole match; one: a
// str or None; several: a tuple), m[g] (as m.group(g)), m.groups(default=None),
// m.groupdict(default=None), m.start(group=0), m.end(group=0),
// m.span(group=0) (-1 for a group that did not take part),
// m.expand(template), m.string, m.re, m.pos, m.endpos, m.lastindex and
// m.lastgroup. A match is always true, even when empty.
//
// Compiled patterns are cached: up to [CacheSize] of them, least recently
// used dropped first, shared by every thread and every generation.
//
// # Syntax and what is translated
//
// Everything of Python's syntax for str patterns is accepted but what
// needs backtracking: lookahead (?=...) and (?!...), lookbehind (?<=...)
// and (?<!...), backreferences \1 and (?P=name), possessive quantifiers
// (a*+), atomic groups (?>...) and conditionals (?(1)...) fail with
// "… is not supported: RE2 has no backtracking, which keeps matching
// linear in time". Translated for RE2, with Python's meaning: \d, \w, \s
// and their negations (Unicode as in Python 3, ASCII under re.ASCII or
// (?a), \s including \v and \x1c-\x1f), \Z, octal escapes, \uXXXX and
// \UXXXXXXXX, [\b], {,n}, a "{" that is no repeat, "[" inside a set,
// (?#comments), re.VERBOSE and (?x), and scoped flags (?i:...) and
// (?-i:...). Errors carry Python's wording and positions where Python
// has them.
//
// # Differences from Python
//
//   - Offsets (start, end, span, pos, endpos) count bytes, as Starlark
//     string indexes do: s[m.start():m.end()] is the match. Python counts
//     characters; the two agree on ASCII text.
//   - $ without re.MULTILINE matches only at the very end of the string;
//     Python's also matches before a final newline (re.search("a$", "a\n")).
//     Write \n?\Z to accept one.
//   - \b and \B look at ASCII word characters only, though \w is Unicode:
//     r"\bcafé\b" does not match "café " here.
//   - After an empty match, the next match is the leftmost one that is not
//     that same empty match. Python's backtracking may instead find a
//     non-empty match at the same position when the pattern prefers the
//     empty one there, which only lazy or empty-first patterns do:
//     re.findall("x*?", "xx") is ["", "", ""] here, ["", "x", "", "x", ""]
//     in Python. Greedy patterns give Python's results.
//   - Repeat counts are at most 1000 (a{1001} fails).
//   - IGNORECASE folds Unicode letters also under re.ASCII.
//   - Group names are ASCII identifiers; \N{name} escapes are not
//     supported.
//   - Only str patterns and strings: no bytes patterns. Invalid UTF-8 in
//     the string matches byte by byte as U+FFFD.
//   - finditer returns a list, not an iterator.
//   - Extension: \p{Greek}, \pL, \P{Lu} and the other RE2 Unicode classes
//     work, in and out of sets.
//   - Starlark has no try: an invalid pattern fails the call (Python raises
//     re.error).
//
// # Concurrency
//
// The module, patterns and matches are immutable and safe for concurrent
// use; the cache is guarded by a mutex.
package re
