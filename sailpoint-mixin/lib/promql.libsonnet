// Rewrites of the shipped PromQL: add label matchers to every series
// selector, and set the provisioning SLO target. A small scanner, not a
// parser: it knows strings, comments, ranges, braces, function calls,
// keywords, aggregations and the label lists after by/without/on/ignoring/
// group_left/group_right, which is all the shipped rules and dashboards use.
// It runs as one std.foldl over the characters, each step's output joined at
// once, so long expressions cost no stack.
local isIdentStart(c) = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
local isIdentChar(c) = isIdentStart(c) || (c >= '0' && c <= '9');
local isDigit(c) = c >= '0' && c <= '9';
local isSpace(c) = c == ' ' || c == '\n' || c == '\t' || c == '\r';

local keywords = std.set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);
local grouping = std.set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
local aggregations = std.set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values',
  'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);

// The default target, as written in alerts/ and dashboards/.
local sloDefault = 0.99;
local sloToken = '(1 - 0.99)';

{
  // addSelector returns expr with matchers (e.g. 'job="x"') added to each
  // series selector; an empty matchers string returns expr unchanged.
  addSelector(expr, matchers)::
    if matchers == '' then expr else
      // The new text is joined at once (the condition forces it), not left
      // as a thunk on the state before: a chain of those, one per character,
      // would exceed the stack on a long expression when it is finally read.
      local emit(s, text) = local out = s.out + text; if std.length(out) >= 0 then s { out: out } else error 'unreachable';
      // code handles one character outside any token.
      local code(s, c) =
        if c == '"' || c == "'" || c == '`' then emit(s, c) { mode: 'string', quote: c, ret: 'code', esc: false }
        else if c == '#' then emit(s, c) { mode: 'comment' }
        else if c == '[' then emit(s, c) { mode: 'range' }
        else if c == '{' then emit(s, c) { mode: 'braces', insert: true }
        else if isDigit(c) || c == '.' then emit(s, c) { mode: 'number' }
        else if isIdentStart(c) then s { mode: 'word', word: c, ws: '' }
        else emit(s, c);
      // decide classifies the word just read, now that the next non-space
      // character c is known, and handles c.
      local decide(s, c) =
        local w = s.word;
        local t = s { word: '', ws: '' };
        if c == '(' then
          if std.member(grouping, w) then emit(t, w + s.ws + c) { mode: 'group', depth: 1 }
          else emit(t, w + s.ws + c) { mode: 'code' }  // a function or an aggregation
        else if std.member(keywords, w) || std.member(grouping, w) || std.member(aggregations, w) then
          code(emit(t, w + s.ws) { mode: 'code' }, c)
        else if c == '{' then emit(t, w + s.ws + c) { mode: 'braces', insert: true }
        else code(emit(t, w + '{' + matchers + '}' + s.ws) { mode: 'code' }, c);
      local step(s, c) =
        if s.mode == 'code' then code(s, c)
        else if s.mode == 'word' then
          if isIdentChar(c) then s { word: s.word + c }
          else if isSpace(c) then s { mode: 'after', ws: c }
          else decide(s, c)
        else if s.mode == 'after' then
          if isSpace(c) then s { ws: s.ws + c } else decide(s, c)
        else if s.mode == 'number' then
          if isIdentChar(c) || c == '.' then emit(s, c) else code(s { mode: 'code' }, c)
        else if s.mode == 'string' then
          if s.esc then emit(s, c) { esc: false }
          else if c == '\\' then emit(s, c) { esc: true }
          else if c == s.quote then emit(s, c) { mode: s.ret }
          else emit(s, c)
        else if s.mode == 'comment' then
          emit(s, c) { mode: if c == '\n' then 'code' else 'comment' }
        else if s.mode == 'range' then
          emit(s, c) { mode: if c == ']' then 'code' else 'range' }
        else if s.mode == 'group' then
          emit(s, c) {
            depth: s.depth + (if c == '(' then 1 else if c == ')' then -1 else 0),
            mode: if self.depth == 0 then 'code' else 'group',
          }
        else if s.mode == 'braces' then
          if s.insert && isSpace(c) then emit(s, c)
          else if s.insert && c == '}' then emit(s, matchers + c) { mode: 'code', insert: false }
          else
            local u = if s.insert then emit(s, matchers + ', ') { insert: false } else s;
            if c == '"' || c == "'" || c == '`' then emit(u, c) { mode: 'string', quote: c, ret: 'braces', esc: false }
            else if c == '}' then emit(u, c) { mode: 'code' }
            else emit(u, c)
        else error 'promql.addSelector: unknown mode ' + s.mode;
      local init = { out: '', mode: 'code', word: '', ws: '', quote: '', ret: 'code', esc: false, depth: 0, insert: false };
      local end = std.foldl(step, std.stringChars(expr), init);
      if end.mode == 'word' || end.mode == 'after' then
        local w = end.word;
        if std.member(keywords, w) || std.member(grouping, w) || std.member(aggregations, w)
        then end.out + w + end.ws
        else end.out + w + '{' + matchers + '}' + end.ws
      else end.out,

  // addSelectorToLabelValues does the same for a Grafana variable query
  // label_values(<series selector>, <label>): only its first argument is PromQL.
  addSelectorToLabelValues(query, matchers)::
    local prefix = 'label_values(';
    if matchers == '' || !std.startsWith(query, prefix) || !std.endsWith(query, ')') then query else
      local inner = std.substr(query, std.length(prefix), std.length(query) - std.length(prefix) - 1);
      local commas = std.findSubstr(',', inner);
      if std.length(commas) == 0 then query else
        local at = commas[std.length(commas) - 1];
        prefix + $.addSelector(std.substr(inner, 0, at), matchers) + std.substr(inner, at, std.length(inner) - at) + ')',

  // setSLOTarget replaces the shipped target (0.99, written `(1 - 0.99)`)
  // with target.
  setSLOTarget(expr, target)::
    assert std.isNumber(target) && target > 0 && target < 1 : 'provisioningSLOTarget must be a number between 0 and 1, got ' + target;
    if target == sloDefault then expr
    else std.strReplace(expr, sloToken, '(1 - ' + std.toString(target) + ')'),
}
