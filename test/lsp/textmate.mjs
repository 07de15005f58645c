// A small TextMate tokenizer for testing grammar/net.tmLanguage.json without an editor: `match` rules
// with captures, `begin`/`end` rules carried across lines, `include` of repository rules. At each
// position the earliest match wins, the first listed on a tie, and an enclosing rule's `end` wins a tie
// with its patterns - as in vscode-textmate. Regexes run as JavaScript regexes; the grammar keeps to
// the constructs on which Oniguruma and JavaScript agree (test/lsp/editors.test.ts checks they compile).

const compiled = new Map();
function regex(source) {
  let re = compiled.get(source);
  if (!re) compiled.set(source, (re = new RegExp(source, 'dg')));
  return re;
}

function exec(source, line, pos) {
  const re = regex(source);
  re.lastIndex = pos;
  return re.exec(line);
}

/** The rules a pattern list stands for, includes resolved. */
function flatten(grammar, patterns, out = []) {
  for (const p of patterns ?? []) {
    if (p.include) {
      const target = p.include === '$self' ? { patterns: grammar.patterns } : grammar.repository[p.include.slice(1)];
      if (target.match || target.begin) out.push(target);
      else flatten(grammar, target.patterns, out);
    } else if (p.match || p.begin) out.push(p);
    else flatten(grammar, p.patterns, out);
  }
  return out;
}

/** Split a match into tokens: the rule's scope over all of it, each capture's scope over its group. */
function emit(tokens, line, m, scopes, name, captures) {
  const base = name ? [...scopes, name] : scopes;
  const start = m.index;
  const end = m.index + m[0].length;
  const cuts = [];
  for (const [group, capture] of Object.entries(captures ?? {})) {
    const span = m.indices[Number(group)];
    if (span && capture.name && span[1] > span[0]) cuts.push({ start: span[0], end: span[1], scope: capture.name.replace('$1', m[1] ?? '') });
  }
  cuts.sort((a, b) => a.start - b.start);
  let at = start;
  for (const c of cuts) {
    if (c.start < at) continue;
    if (c.start > at) tokens.push({ text: line.slice(at, c.start), scopes: base });
    tokens.push({ text: line.slice(c.start, c.end), scopes: [...base, c.scope] });
    at = c.end;
  }
  if (end > at) tokens.push({ text: line.slice(at, end), scopes: base });
}

/** Tokens of each line: `{ text, scopes }`, scopes outermost first (the grammar's scopeName left out). */
export function tokenize(grammar, text) {
  const stack = [];
  const lines = [];
  for (const line of text.split('\n')) {
    const tokens = [];
    let pos = 0;
    for (let guard = 0; pos <= line.length && guard < 10_000; guard++) {
      const top = stack[stack.length - 1];
      const scopes = top ? top.scopes : [];
      const rules = flatten(grammar, top ? top.rule.patterns : grammar.patterns);
      let best;
      for (const rule of rules) {
        const m = exec(rule.match ?? rule.begin, line, pos);
        if (m && (!best || m.index < best.m.index)) best = { rule, m };
      }
      const end = top ? exec(top.rule.end, line, pos) : null;
      if (end && (!best || end.index <= best.m.index)) {
        if (end.index > pos) tokens.push({ text: line.slice(pos, end.index), scopes });
        emit(tokens, line, end, scopes, undefined, top.rule.endCaptures ?? top.rule.captures);
        stack.pop();
        pos = end.index + end[0].length;
        if (end[0].length === 0 && end.index === line.length) break;
        continue;
      }
      if (!best) {
        if (pos < line.length) tokens.push({ text: line.slice(pos), scopes });
        break;
      }
      const { rule, m } = best;
      if (m.index > pos) tokens.push({ text: line.slice(pos, m.index), scopes });
      if (rule.match) {
        emit(tokens, line, m, scopes, rule.name, rule.captures);
        pos = m.index + Math.max(1, m[0].length);
        if (m[0].length === 0) tokens.push({ text: line.slice(m.index, pos), scopes });
      } else {
        emit(tokens, line, m, scopes, rule.name, rule.beginCaptures ?? rule.captures);
        stack.push({ rule, scopes: rule.name ? [...scopes, rule.name] : scopes });
        pos = m.index + m[0].length;
      }
    }
    lines.push(tokens.filter((t) => t.text.length));
  }
  return lines;
}

/** The scopes of the token holding the `nth` occurrence of `needle` (which must be one whole token). */
export function scopesOf(lines, lineIndex, needle, nth = 0) {
  let seen = 0;
  for (const t of lines[lineIndex]) {
    if (t.text.trim() === needle && seen++ === nth) return t.scopes;
  }
  throw new Error(`no token "${needle}" on line ${lineIndex}: ${JSON.stringify(lines[lineIndex])}`);
}
