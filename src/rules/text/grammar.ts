/**
 * The grammar of the rule text form (docs/rules.md, "Text form"), for Peggy.
 *
 * Peggy was chosen over a hand-written parser because its failures carry the exact
 * line and column of the rightmost point the input could not be read and the list of
 * what would have been accepted there; named rules ("a value", "an operator") keep
 * that list short. Checks on shape that the JSON schema makes (event type spelling,
 * durations, step counts) are made in the actions through `options.helpers`, so
 * their errors point at the offending token too.
 */

/** Keywords, matched in any case and never as the start of a longer name. */
const KEYWORDS = [
  "after",
  "ago",
  "all",
  "and",
  "anniversary",
  "any",
  "avg",
  "before",
  "between",
  "bucket",
  "contains",
  "count",
  "did",
  "distinct",
  "during",
  "empty",
  "ends",
  "false",
  "first_at",
  "in",
  "is",
  "json",
  "last",
  "last_at",
  "max",
  "min",
  "more",
  "most_frequent",
  "next",
  "none",
  "not",
  "null",
  "of",
  "on",
  "or",
  "segment",
  "sequence",
  "set",
  "starts",
  "sum",
  "than",
  "then",
  "true",
  "weekday",
  "where",
  "with",
  "within",
] as const;

const kw = (w: string) => `Kw_${w}`;

const KEYWORD_RULES = KEYWORDS.map((w) => `${kw(w)} = "${w}"i !KeywordTail`).join("\n");

export const GRAMMAR = String.raw`
{
  const h = options.helpers;
}

// The generated parser itself requires the whole input to be read, and reports
// "end of input" among the expectations when it is not.
Rule
  = _ e:OrExpr _ { return e; }

OrExpr
  = head:AndExpr tail:(_ ${kw("or")} _ e:AndExpr { return e; })*
    { return tail.length === 0 ? head : { type: "or", conditions: [head, ...tail] }; }

AndExpr
  = head:Unary tail:(_ ${kw("and")} _ e:Unary { return e; })*
    { return tail.length === 0 ? head : { type: "and", conditions: [head, ...tail] }; }

Unary
  = SegmentCond
  / ${kw("not")} _ c:Unary { return { type: "not", condition: c }; }
  / Primary

Primary
  = "(" _ e:OrExpr _ ")" { return e; }
  / GroupFn
  / DidCond
  / MeasureCond
  / SequenceCond
  / BucketCond
  / RankCond
  / QuintileCond
  / RfmCond
  / JsonCond
  / FieldCond

GroupFn
  = t:(${kw("all")} { return "and"; } / ${kw("any")} { return "or"; }) _ ${kw("of")} _ "(" _
    head:OrExpr tail:(_ "," _ e:OrExpr { return e; })* _ ")"
    { return { type: t, conditions: [head, ...tail] }; }

SegmentCond
  = neg:(${kw("not")} _)? ${kw("in")} _ ${kw("segment")} _ s:SegmentId
    { return { type: "segment", op: neg ? "not_in" : "in", segment: s }; }

DidCond
  = ${kw("did")} _ "(" _ t:Target _ ")"
    { const r = h.did(t); if (typeof r === "string") error(r); return r; }

MeasureCond
  = fn:MeasureFn _ "(" _ t:Target _ ")" _ c:(
      OpClause
    / "" { error('expected an operator: ' + fn + '(…) is compared with a value, as in ' + fn + '(…) >= 1; did(…) means "at least once"'); }
    )
    { return h.measure(fn, t, c); }

MeasureFn
  = ${kw("count")} { return "count"; }
  / ${kw("distinct")} { return "distinct"; }
  / ${kw("sum")} { return "sum"; }
  / ${kw("avg")} { return "avg"; }
  / ${kw("min")} { return "min"; }
  / ${kw("max")} { return "max"; }
  / ${kw("first_at")} { return "first_at"; }
  / ${kw("last_at")} { return "last_at"; }
  / ${kw("most_frequent")} { return "most_frequent"; }

Target
  = event:EventName property:("." p:PropertyName { return p; })?
    where:(_ w:Where { return w; })? window:(_ "," _ w:Window { return w; })?
    { return { event, property, where, window }; }

SequenceCond
  = ${kw("sequence")} _ "(" _ head:Step tail:(_ ${kw("then")} _ s:Step { return s; })*
    _ ${kw("within")} _ within:Duration window:(_ "," _ w:Window { return w; })? _ ")"
    { const r = h.sequence([head, ...tail], within, window); if (typeof r === "string") error(r); return r; }

Step
  = neg:(${kw("not")} _)? event:EventName where:(_ w:Where { return w; })?
    {
      const step = where ? { event, where } : { event };
      return neg ? { ...step, not: true } : step;
    }

BucketCond
  = ${kw("bucket")} _ "(" _ seed:BucketSeed _ ")" _ c:(
      OpClause
    / "" { error('expected an operator: bucket(…) is compared with a number from 0 to 100, as in bucket("holdout") < 10'); }
    )
    { const r = h.bucket(seed, c); if (typeof r === "string") error(r); return r; }

BucketSeed "a seed"
  = Word
  / StringLit

// top, bottom, by, quintile and rfm_score are not reserved: each is read only where a
// number or "(" follows, which a field condition never has.
RankCond
  = dir:("top"i !KeywordTail { return "top"; } / "bottom"i !KeywordTail { return "bottom"; })
    _ p:Number _ "%" _ "by"i !KeywordTail _ fn:MeasureFn _ "(" _ t:Target _ ")"
    { return h.rank(dir, p, fn, t); }

QuintileCond
  = "quintile"i !KeywordTail _ "(" _ fn:MeasureFn _ "(" _ t:Target _ ")" _ ")" _ c:(
      OpClause
    / "" { error('expected an operator: quintile(…) is a score from 1 to 5, as in quintile(sum(order_placed.amount)) >= 4'); }
    )
    { return h.quintile(fn, t, c); }

RfmCond
  = "rfm_score"i !KeywordTail _ "(" _ kind:(Word / StringLit) t:(_ "," _ t:Target { return t; })? _ ")" _ c:(
      OpClause
    / "" { error('expected an operator: rfm_score(…) is a score from 1 to 5, as in rfm_score(recency) >= 4'); }
    )
    { const r = h.rfm(kind, t, c); if (typeof r === "string") error(r); return r; }

JsonCond
  = ${kw("json")} _ v:ObjectValue
    { const r = h.json(v); if (typeof r === "string") error(r); return r; }

FieldCond
  = f:FieldName _ c:OpClause { return h.field(f, c); }

Where
  = ${kw("where")} _ head:Filter tail:(_ ${kw("and")} _ f:Filter { return f; })*
    { const r = h.where([head, ...tail]); if (typeof r === "string") error(r); return r; }

Filter
  = p:PropertyName _ c:OpClause { return h.filter(p, c); }

Window
  = (${kw("in")} _)? ${kw("last")} _ d:Duration { return { in_last: d }; }
  / ${kw("between")} _ a:Duration _ ${kw("and")} _ b:Duration _ ${kw("ago")} { return { between_ago: [a, b] }; }
  / ${kw("between")} _ a:TimeValue _ ${kw("and")} _ b:TimeValue { return { between: [a, b] }; }
  / ${kw("after")} _ t:TimeValue { return { after: t }; }
  / ${kw("before")} _ t:TimeValue { return { before: t }; }
  / ${kw("during")} _ p:PeriodWord { return { during: p }; }

// ------------------------------------------------------------------ operators

OpClause
  = o:Op v:(
      &{ return o.form === "none"; } { return { has: false }; }
    / &{ return o.form === "pair"; } _ a:Value _ ${kw("and")} _ b:Value { return { has: true, value: [a, b] }; }
    / &{ return o.form === "ago"; } _ a:Value _ ${kw("ago")} { return { has: true, value: a }; }
    / &{ return o.form === "one"; } _ a:Value { return { has: true, value: a }; }
    / &{ return o.form === "period"; } _ a:(PeriodWord / Value) { return { has: true, value: a }; }
    )
    { return { op: o.op, ...v }; }

Op "an operator"
  = "!=" { return { op: "neq", form: "one" }; }
  / ">=" { return { op: "gte", form: "one" }; }
  / "<=" { return { op: "lte", form: "one" }; }
  / "=" { return { op: "eq", form: "one" }; }
  / ">" { return { op: "gt", form: "one" }; }
  / "<" { return { op: "lt", form: "one" }; }
  / ${kw("is")} _ ${kw("not")} _ ${kw("set")} { return { op: "is_not_set", form: "none" }; }
  / ${kw("is")} _ ${kw("set")} { return { op: "is_set", form: "none" }; }
  / ${kw("is")} _ ${kw("not")} _ ${kw("empty")} { return { op: "is_not_empty", form: "none" }; }
  / ${kw("is")} _ ${kw("empty")} { return { op: "is_empty", form: "none" }; }
  / ${kw("not")} _ ${kw("in")} { return { op: "not_in", form: "one" }; }
  / ${kw("not")} _ ${kw("contains")} { return { op: "not_contains", form: "one" }; }
  / ${kw("in")} _ ${kw("last")} { return { op: "in_last", form: "one" }; }
  / ${kw("in")} _ ${kw("next")} { return { op: "in_next", form: "one" }; }
  / ${kw("in")} { return { op: "in", form: "one" }; }
  / ${kw("contains")} _ ${kw("any")} { return { op: "contains_any", form: "one" }; }
  / ${kw("contains")} _ ${kw("all")} { return { op: "contains_all", form: "one" }; }
  / ${kw("contains")} _ ${kw("none")} { return { op: "contains_none", form: "one" }; }
  / ${kw("contains")} { return { op: "contains", form: "one" }; }
  / ${kw("starts")} _ ${kw("with")} { return { op: "starts_with", form: "one" }; }
  / ${kw("ends")} _ ${kw("with")} { return { op: "ends_with", form: "one" }; }
  / ${kw("between")} { return { op: "between", form: "pair" }; }
  / ${kw("before")} { return { op: "before", form: "one" }; }
  / ${kw("after")} { return { op: "after", form: "one" }; }
  / ${kw("on")} { return { op: "on", form: "one" }; }
  / ${kw("more")} _ ${kw("than")} { return { op: "more_than_ago", form: "ago" }; }
  / ${kw("anniversary")} _ ${kw("in")} _ ${kw("next")} { return { op: "anniversary_in_next", form: "one" }; }
  / ${kw("anniversary")} _ ${kw("during")} { return { op: "anniversary_during", form: "period" }; }
  / ${kw("during")} { return { op: "during", form: "period" }; }
  / ${kw("weekday")} _ ${kw("in")} { return { op: "weekday_in", form: "one" }; }
  / w:$([A-Za-z_]+) !KeywordTail &{ return h.isOpName(w.toLowerCase()); }
    { return { op: w.toLowerCase(), form: h.opForm(w.toLowerCase()) }; }

PeriodWord "a calendar period"
  = w:Word &{ return h.isPeriod(w); } { return w; }

// ------------------------------------------------------------------ names

FieldName "a condition"
  = n:Path !{ return h.isReserved(n); } { return n; }
  / QuotedName

PropertyName "a property"
  = n:(Path / QuotedName) { const r = h.property(n); if (r) error(r); return n; }

EventName "an event type"
  = n:(Word / QuotedName) { const r = h.eventType(n); if (r) error(r); return n; }

SegmentId "a segment id"
  = Path / QuotedName

QuotedName
  = s:StringLit { if (s === "") error("a name cannot be empty"); return s; }

Path = $(Word ("." Word)*)

Word = $([A-Za-z_] [A-Za-z0-9_]*)

// ------------------------------------------------------------------ values

Value
  = List
  / ObjectValue
  / Scalar

List
  = "(" _ items:Items? _ ")" { return items ?? []; }
  / "[" _ items:Items? _ "]" { return items ?? []; }

Items
  = head:Value tail:(_ "," _ v:Value { return v; })* { return [head, ...tail]; }

ObjectValue
  = "{" _ members:Members? _ "}" { return h.object(members ?? []); }

Members
  = head:Member tail:(_ "," _ m:Member { return m; })* { return [head, ...tail]; }

Member
  = k:StringLit _ ":" _ v:Value { return [k, v]; }

Scalar "a value"
  = DateToken
  / Number
  / Duration
  / StringLit
  / ${kw("true")} { return true; }
  / ${kw("false")} { return false; }
  / ${kw("null")} { return null; }

TimeValue "a date or instant"
  = DateToken
  / StringLit

DateToken
  = d:$([0-9] [0-9] [0-9] [0-9] "-" [0-9] [0-9] "-" [0-9] [0-9] ("T" [0-9:.]+ Zone?)?) !KeywordTail { return d; }

Zone
  = "Z"
  / [+-] [0-9] [0-9] (":"? [0-9] [0-9])?

Number
  = n:$("-"? [0-9]+ ("." [0-9]+)? ([eE] [+-]? [0-9]+)?) !KeywordTail { return Number(n); }

Duration "a duration"
  = d:$([0-9.]+ [A-Za-z_] [A-Za-z0-9_]*) { const r = h.duration(d); if (r) error(r); return d; }

StringLit
  = '"' chars:StrChar* '"' { return chars.join(""); }
  / '"' StrChar* { error('this text has no closing quote (")'); }

StrChar
  = [^"\\\n\r]
  / "\\" e:Escape { return e; }

Escape
  = '"' { return '"'; }
  / "\\" { return "\\"; }
  / "/" { return "/"; }
  / "b" { return "\b"; }
  / "f" { return "\f"; }
  / "n" { return "\n"; }
  / "r" { return "\r"; }
  / "t" { return "\t"; }
  / "u" hex:$([0-9a-fA-F]|4|) { return String.fromCharCode(parseInt(hex, 16)); }
  / c:. { error("unknown escape \\" + c + ' in text (use \\" \\\\ \\n \\t or \\uXXXX)'); }

// ------------------------------------------------------------------ lexical

_ "whitespace"
  = ([ \t\r\n] / "#" [^\n]*)*

KeywordTail = [A-Za-z0-9_.]

${KEYWORD_RULES}
`;
