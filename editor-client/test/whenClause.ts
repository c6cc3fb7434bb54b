/**
 * A small evaluator of VS Code `when` clauses, for the subset package.json uses: `key`, `!key`,
 * `key == value`, `key != value`, `key =~ /regex/flags`, `&&`, `||` (`&&` binds tighter), `!`,
 * parentheses, `true` / `false`. Anything else (`<`, `in`, `not in`, a stray token) throws, so a
 * clause written with syntax the tests do not understand cannot pass them silently.
 */

export type Context = Record<string, string | number | boolean | undefined>;

type Token =
    | { t: 'op'; v: '&&' | '||' | '!' | '(' | ')' | '==' | '!=' | '=~' }
    | { t: 'word'; v: string }
    | { t: 'str'; v: string }
    | { t: 'regex'; v: RegExp };

function tokenize(src: string): Token[] {
    const out: Token[] = [];
    let i = 0;
    while (i < src.length) {
        const c = src[i];
        if (c === ' ' || c === '\t') {
            i++;
            continue;
        }
        const two = src.slice(i, i + 2);
        if (two === '&&' || two === '||' || two === '==' || two === '!=') {
            out.push({ t: 'op', v: two });
            i += 2;
            continue;
        }
        if (two === '=~') {
            out.push({ t: 'op', v: '=~' });
            i += 2;
            while (src[i] === ' ') {
                i++;
            }
            if (src[i] !== '/') {
                throw new Error(`when clause: =~ needs a /regex/ at ${i}: ${src}`);
            }
            let j = i + 1;
            let body = '';
            while (j < src.length && src[j] !== '/') {
                if (src[j] === '\\') {
                    body += src.slice(j, j + 2);
                    j += 2;
                } else {
                    body += src[j++];
                }
            }
            if (j >= src.length) {
                throw new Error(`when clause: unterminated regex: ${src}`);
            }
            j++;
            let flags = '';
            while (j < src.length && /[a-z]/i.test(src[j])) {
                flags += src[j++];
            }
            if (!/^[imsu]*$/.test(flags)) {
                throw new Error(`when clause: regex flags ${flags} not understood: ${src}`);
            }
            out.push({ t: 'regex', v: new RegExp(body, flags) });
            i = j;
            continue;
        }
        if (c === '!' || c === '(' || c === ')') {
            out.push({ t: 'op', v: c });
            i++;
            continue;
        }
        if (c === "'") {
            const end = src.indexOf("'", i + 1);
            if (end < 0) {
                throw new Error(`when clause: unterminated string: ${src}`);
            }
            out.push({ t: 'str', v: src.slice(i + 1, end) });
            i = end + 1;
            continue;
        }
        const m = /^[A-Za-z0-9_.\-:]+/.exec(src.slice(i));
        if (!m) {
            throw new Error(`when clause: cannot read ${JSON.stringify(src.slice(i))} in: ${src}`);
        }
        out.push({ t: 'word', v: m[0] });
        i += m[0].length;
    }
    return out;
}

/** A parsed clause: call it with a context. */
export type Clause = (ctx: Context) => boolean;

/** Parse `src`; throws on syntax outside the subset. */
export function parseWhen(src: string): Clause {
    const toks = tokenize(src);
    let pos = 0;
    const peek = (): Token | undefined => toks[pos];
    const isOp = (v: string): boolean => {
        const t = peek();
        return t !== undefined && t.t === 'op' && t.v === v;
    };
    const fail = (what: string): never => {
        throw new Error(`when clause: ${what} at token ${pos} of: ${src}`);
    };

    const expr = (): Clause => {
        const parts = [and()];
        while (isOp('||')) {
            pos++;
            parts.push(and());
        }
        return (ctx) => parts.some((p) => p(ctx));
    };
    const and = (): Clause => {
        const parts = [unary()];
        while (isOp('&&')) {
            pos++;
            parts.push(unary());
        }
        return (ctx) => parts.every((p) => p(ctx));
    };
    const unary = (): Clause => {
        if (isOp('!')) {
            pos++;
            const inner = unary();
            return (ctx) => !inner(ctx);
        }
        return primary();
    };
    const value = (): string | boolean => {
        const t = peek();
        if (t?.t === 'str') {
            pos++;
            return t.v;
        }
        if (t?.t === 'word') {
            pos++;
            return t.v === 'true' ? true : t.v === 'false' ? false : t.v;
        }
        return fail('a value expected');
    };
    const primary = (): Clause => {
        if (isOp('(')) {
            pos++;
            const inner = expr();
            if (!isOp(')')) {
                fail(') expected');
            }
            pos++;
            return inner;
        }
        const t = peek();
        if (t?.t !== 'word') {
            return fail('a context key expected');
        }
        pos++;
        const key = t.v;
        if (key === 'true' || key === 'false') {
            const b = key === 'true';
            return () => b;
        }
        if (isOp('==') || isOp('!=')) {
            const negate = isOp('!=');
            pos++;
            const v = value();
            return (ctx) => {
                const actual = ctx[key];
                // VS Code compares loosely: a boolean literal against the key's value, else as strings
                const eq = typeof v === 'boolean' ? actual === v : actual !== undefined && String(actual) === v;
                return negate ? !eq : eq;
            };
        }
        if (isOp('=~')) {
            pos++;
            const r = peek();
            if (r?.t !== 'regex') {
                return fail('a regex expected');
            }
            pos++;
            const re = r.v;
            return (ctx) => {
                const actual = ctx[key];
                return actual !== undefined && re.test(String(actual));
            };
        }
        return (ctx) => Boolean(ctx[key]);
    };

    const clause = expr();
    if (pos !== toks.length) {
        fail('unexpected token');
    }
    return clause;
}

/** Evaluate `src` in `ctx` (an absent clause is true, as in VS Code). */
export function evalWhen(src: string | undefined, ctx: Context): boolean {
    return src === undefined ? true : parseWhen(src)(ctx);
}
