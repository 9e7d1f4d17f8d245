/* exprtree: an expression evaluator's allocation pattern, many tiny short-lived tree nodes.
 *
 * Each iteration, like a small interpreter or computer-algebra system:
 *   1. builds a random expression tree over x and y (+, -, *, unary -, constants; 1..2S leaves);
 *   2. evaluates it and its derivative in x at one point (dual numbers, arithmetic mod 2^64);
 *   3. prints it to a string (a buffer grown with realloc) and frees the tree;
 *   4. tokenizes the string into a linked list of malloc'd tokens and parses it back into a new tree
 *      (recursive descent), freeing the tokens and the string;
 *   5. builds the symbolic derivative d/dx of the parsed tree (new nodes, deep copies of subtrees)
 *      and simplifies it (constant folding, x*1, x+0, x*0 ...: a new tree, the old one freed);
 *   6. keeps the result in one of K live slots, freeing the tree it replaces: trees live for a
 *      random while, as an interpreter's values do.
 * Nodes are 24 bytes, tokens 24-32.
 *
 * Checks: the parsed tree must evaluate to the value of the original, the simplified derivative to
 * the derivative computed by the dual numbers, a live tree to its recorded value when it is
 * dropped; every node carries a magic word checked on every visit and cleared when freed.
 *
 * usage: exprtree [-n iterations=8000] [-s leaves per tree=100] [-k live trees=256] */
#include "common.h"

enum { K_CONST = 1, K_X, K_Y, K_ADD, K_SUB, K_MUL, K_NEG };
#define NODE_MAGIC 0x6e6f6465u

typedef struct node {
    uint32_t kind;
    uint32_t magic;
    union {
        uint64_t val;
        struct {
            struct node *l, *r;
        } c;
    } u;
} node_t;

typedef struct token {
    struct token *next;
    char type; /* '(' ')' '+' '-' '*' 'x' 'y' 'n' */
    uint64_t val;
} token_t;

static uint64_t g_nodes_made;

static node_t *mk(uint32_t kind, node_t *l, node_t *r)
{
    node_t *n = malloc(sizeof *n);
    CHECK_ALLOC(n, sizeof *n);
    n->kind = kind;
    n->magic = NODE_MAGIC ^ kind;
    n->u.c.l = l;
    n->u.c.r = r;
    g_nodes_made++;
    return n;
}

static node_t *mkconst(uint64_t v)
{
    node_t *n = mk(K_CONST, NULL, NULL);
    n->u.val = v;
    return n;
}

static inline void chk(const node_t *n)
{
    if (n == NULL || n->kind < K_CONST || n->kind > K_NEG || n->magic != (NODE_MAGIC ^ n->kind))
        CORRUPT("exprtree: node %p overwritten (kind %u magic %08x)", (const void *)n,
                n ? n->kind : 0, n ? n->magic : 0);
}

static void del(node_t *n)
{
    chk(n);
    if (n->kind >= K_ADD) {
        del(n->u.c.l);
        if (n->kind != K_NEG)
            del(n->u.c.r);
    }
    n->magic = 0;
    free(n);
}

static node_t *gen(ab_rng *r, long budget)
{
    if (budget <= 1) {
        uint64_t k = ab_next(r) % 4;
        if (k == 0)
            return mk(K_X, NULL, NULL);
        if (k == 1)
            return mk(K_Y, NULL, NULL);
        return mkconst(ab_next(r) % 1000);
    }
    if (ab_next(r) % 8 == 0)
        return mk(K_NEG, gen(r, budget - 1), NULL);
    long left = 1 + (long)(ab_next(r) % (uint64_t)(budget - 1));
    uint32_t kind = K_ADD + (uint32_t)(ab_next(r) % 3);
    node_t *l = gen(r, left);
    node_t *rr = gen(r, budget - left);
    return mk(kind, l, rr);
}

typedef struct {
    uint64_t v, d;
} dual_t;

static dual_t eval(const node_t *n, uint64_t x, uint64_t y)
{
    chk(n);
    dual_t a, b, o;
    switch (n->kind) {
    case K_CONST:
        return (dual_t){n->u.val, 0};
    case K_X:
        return (dual_t){x, 1};
    case K_Y:
        return (dual_t){y, 0};
    case K_NEG:
        a = eval(n->u.c.l, x, y);
        return (dual_t){0 - a.v, 0 - a.d};
    default:
        a = eval(n->u.c.l, x, y);
        b = eval(n->u.c.r, x, y);
        if (n->kind == K_ADD)
            o = (dual_t){a.v + b.v, a.d + b.d};
        else if (n->kind == K_SUB)
            o = (dual_t){a.v - b.v, a.d - b.d};
        else
            o = (dual_t){a.v * b.v, a.d * b.v + a.v * b.d};
        return o;
    }
}

/* ---- printing into a growing buffer ---- */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 16;
        while (nc < b->len + n + 1)
            nc += nc / 2 + 8; /* grow by 1.5x: many reallocs, as string builders do */
        char *q = realloc(b->p, nc);
        CHECK_ALLOC(q, nc);
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void print(buf_t *b, const node_t *n)
{
    chk(n);
    char tmp[24];
    switch (n->kind) {
    case K_CONST: {
        int k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n->u.val);
        put(b, tmp, (size_t)k);
        return;
    }
    case K_X:
        put(b, "x", 1);
        return;
    case K_Y:
        put(b, "y", 1);
        return;
    case K_NEG:
        put(b, "(-", 2);
        print(b, n->u.c.l);
        put(b, ")", 1);
        return;
    default:
        put(b, "(", 1);
        print(b, n->u.c.l);
        put(b, n->kind == K_ADD ? "+" : n->kind == K_SUB ? "-" : "*", 1);
        print(b, n->u.c.r);
        put(b, ")", 1);
    }
}

/* ---- tokenizer and parser ---- */
static token_t *tokenize(const char *s)
{
    token_t *head = NULL, **tail = &head;
    while (*s) {
        token_t *t = malloc(sizeof *t);
        CHECK_ALLOC(t, sizeof *t);
        t->next = NULL;
        t->val = 0;
        if (*s >= '0' && *s <= '9') {
            t->type = 'n';
            while (*s >= '0' && *s <= '9')
                t->val = t->val * 10 + (uint64_t)(*s++ - '0');
        } else if (strchr("()+-*xy", *s)) {
            t->type = *s++;
        } else {
            CORRUPT("exprtree: unexpected character %02x in the printed expression", *s);
        }
        *tail = t;
        tail = &t->next;
    }
    return head;
}

static node_t *parse(token_t **tp)
{
    token_t *t = *tp;
    if (t == NULL)
        CORRUPT("exprtree: expression ends early");
    *tp = t->next;
    switch (t->type) {
    case 'n':
        return mkconst(t->val);
    case 'x':
        return mk(K_X, NULL, NULL);
    case 'y':
        return mk(K_Y, NULL, NULL);
    case '(':
        break;
    default:
        CORRUPT("exprtree: unexpected token '%c'", t->type);
    }
    node_t *res;
    if (*tp && (*tp)->type == '-' && (*tp)->next && (*tp)->next->type != ')' &&
        /* "(-e)" is a negation, "(a-b)" starts with an operand, never with '-' */ 1) {
        *tp = (*tp)->next;
        res = mk(K_NEG, parse(tp), NULL);
    } else {
        node_t *l = parse(tp);
        token_t *op = *tp;
        if (op == NULL || (op->type != '+' && op->type != '-' && op->type != '*'))
            CORRUPT("exprtree: operator expected");
        *tp = op->next;
        node_t *r = parse(tp);
        res = mk(op->type == '+' ? K_ADD : op->type == '-' ? K_SUB : K_MUL, l, r);
    }
    if (*tp == NULL || (*tp)->type != ')')
        CORRUPT("exprtree: ')' expected");
    *tp = (*tp)->next;
    return res;
}

/* ---- symbolic derivative and simplification ---- */
static node_t *copy(const node_t *n)
{
    chk(n);
    if (n->kind == K_CONST)
        return mkconst(n->u.val);
    if (n->kind < K_ADD)
        return mk(n->kind, NULL, NULL);
    return mk(n->kind, copy(n->u.c.l), n->kind == K_NEG ? NULL : copy(n->u.c.r));
}

static node_t *deriv(const node_t *n)
{
    chk(n);
    switch (n->kind) {
    case K_CONST:
    case K_Y:
        return mkconst(0);
    case K_X:
        return mkconst(1);
    case K_NEG:
        return mk(K_NEG, deriv(n->u.c.l), NULL);
    case K_ADD:
    case K_SUB:
        return mk(n->kind, deriv(n->u.c.l), deriv(n->u.c.r));
    default: /* (l*r)' = l'*r + l*r' */
        return mk(K_ADD, mk(K_MUL, deriv(n->u.c.l), copy(n->u.c.r)),
                  mk(K_MUL, copy(n->u.c.l), deriv(n->u.c.r)));
    }
}

static int is_const(const node_t *n, uint64_t v)
{
    return n->kind == K_CONST && n->u.val == v;
}

/* returns a new tree with the same value; frees n */
static node_t *simplify(node_t *n)
{
    chk(n);
    if (n->kind < K_ADD)
        return n;
    node_t *l = simplify(n->u.c.l);
    if (n->kind == K_NEG) {
        n->magic = 0;
        free(n);
        if (l->kind == K_CONST) {
            uint64_t v = 0 - l->u.val;
            del(l);
            return mkconst(v);
        }
        return mk(K_NEG, l, NULL);
    }
    node_t *r = simplify(n->u.c.r);
    uint32_t kind = n->kind;
    n->magic = 0;
    free(n);
    if (l->kind == K_CONST && r->kind == K_CONST) {
        uint64_t a = l->u.val, b = r->u.val;
        del(l);
        del(r);
        return mkconst(kind == K_ADD ? a + b : kind == K_SUB ? a - b : a * b);
    }
    if (kind == K_MUL && (is_const(l, 0) || is_const(r, 0))) {
        del(l);
        del(r);
        return mkconst(0);
    }
    if ((kind == K_MUL && is_const(r, 1)) || ((kind == K_ADD || kind == K_SUB) && is_const(r, 0))) {
        del(r);
        return l;
    }
    if ((kind == K_MUL && is_const(l, 1)) || (kind == K_ADD && is_const(l, 0))) {
        del(l);
        return r;
    }
    return mk(kind, l, r);
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "nsk", "[-n iterations=8000] [-s leaves/tree=100] [-k live trees=256]");
    long iters = ab_opt(argc, argv, 'n', 8000);
    long size = ab_opt(argc, argv, 's', 100);
    long live = ab_opt(argc, argv, 'k', 256);
    if (size < 1 || live < 1)
        FAILED("bad parameters");
    node_t **keep = calloc((size_t)live, sizeof *keep);
    uint64_t *keepval = calloc((size_t)live, sizeof *keepval);
    CHECK_ALLOC(keep, 1);
    CHECK_ALLOC(keepval, 1);
    ab_rng r;
    ab_seed(&r, 4242);
    const uint64_t X = 0x12345678abcdefULL, Y = 987654321;
    uint64_t checksum = 0, chars = 0;

    double t0 = ab_now();
    for (long it = 0; it < iters; it++) {
        node_t *t = gen(&r, (long)ab_range(&r, 1, (size_t)size * 2));
        dual_t want = eval(t, X, Y);
        buf_t b = {0};
        print(&b, t);
        del(t);
        chars += b.len;
        token_t *toks = tokenize(b.p), *tp = toks;
        free(b.p);
        node_t *p = parse(&tp);
        if (tp != NULL)
            CORRUPT("exprtree: tokens left after the expression");
        while (toks) {
            token_t *nx = toks->next;
            free(toks);
            toks = nx;
        }
        dual_t got = eval(p, X, Y);
        if (got.v != want.v || got.d != want.d)
            CORRUPT("exprtree: parsed tree evaluates to %llx, printed one to %llx",
                    (unsigned long long)got.v, (unsigned long long)want.v);
        node_t *d = simplify(deriv(p));
        del(p);
        uint64_t dv = eval(d, X, Y).v;
        if (dv != want.d)
            CORRUPT("exprtree: simplified derivative evaluates to %llx, dual numbers say %llx",
                    (unsigned long long)dv, (unsigned long long)want.d);
        checksum += dv;
        long k = (long)(ab_next(&r) % (uint64_t)live);
        if (keep[k]) {
            if (eval(keep[k], X, Y).v != keepval[k])
                CORRUPT("exprtree: live tree %ld changed value", k);
            del(keep[k]);
        }
        keep[k] = d;
        keepval[k] = dv;
    }
    for (long k = 0; k < live; k++)
        if (keep[k]) {
            if (eval(keep[k], X, Y).v != keepval[k])
                CORRUPT("exprtree: live tree %ld changed value", k);
            del(keep[k]);
        }
    double t1 = ab_now();
    free(keep);
    free(keepval);
    printf("exprtree seconds=%.4f cpu=%.3f maxrss_kb=%ld iterations=%ld nodes=%llu chars=%llu "
           "checksum=%016llx\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), iters, (unsigned long long)g_nodes_made,
           (unsigned long long)chars, (unsigned long long)checksum);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
