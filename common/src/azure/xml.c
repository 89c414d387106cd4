/* A small, strict-enough XML reader for the storage services' responses (listings, queue
 * messages, errors). Builds a tree of element names and their text; attributes are skipped
 * (the documents we read carry nothing we need in them). Bounded depth and node count, every
 * read bounds-checked: outside bytes are fuzzed through aos_azure_blob_list_parse. */
#include <stdlib.h>
#include <string.h>

#include "azure_internal.h"

#define XML_MAX_DEPTH 32
#define XML_MAX_NODES 200000

typedef struct xml_parser {
    const char *s;
    size_t len;
    size_t pos;
    size_t nodes;
    char *errbuf;
    size_t errlen;
} xml_parser_t;

static aos_result perr(xml_parser_t *p, const char *what)
{
    return aos_fail(AOS_ERR_PROTOCOL, p->errbuf, p->errlen, "XML: %s at offset %zu", what, p->pos);
}

static bool starts(const xml_parser_t *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, lit, n) == 0;
}

/* Skip past the next occurrence of lit; false if not found. */
static bool skip_past(xml_parser_t *p, const char *lit)
{
    size_t n = strlen(lit);
    while (p->pos + n <= p->len) {
        if (memcmp(p->s + p->pos, lit, n) == 0) {
            p->pos += n;
            return true;
        }
        p->pos++;
    }
    return false;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || (unsigned char)c >= 0x80;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_space(xml_parser_t *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
}

void aos_xml_free(aos_xml_node_t *n)
{
    while (n) {
        aos_xml_node_t *next = n->next;
        aos_xml_free(n->first_child);
        free(n->name);
        free(n->text);
        free(n);
        n = next;
    }
}

static void put_utf8(aos_buf_t *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    aos_buf_append(b, u, n);
}

/* At '&': decode one reference into b. */
static aos_result parse_entity(xml_parser_t *p, aos_buf_t *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        if (starts(p, named[i].name)) {
            p->pos += strlen(named[i].name);
            return aos_buf_append(b, &named[i].c, 1);
        }
    }
    if (!starts(p, "&#"))
        return perr(p, "unknown entity");
    p->pos += 2;
    int base = 10;
    if (p->pos < p->len && p->s[p->pos] == 'x') {
        base = 16;
        p->pos++;
    }
    unsigned long cp = 0;
    size_t digits = 0;
    while (p->pos < p->len && p->s[p->pos] != ';') {
        char c = p->s[p->pos];
        int d = c >= '0' && c <= '9'                 ? c - '0'
                : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : -1;
        if (d < 0 || ++digits > 8)
            return perr(p, "bad character reference");
        cp = cp * (unsigned long)base + (unsigned long)d;
        p->pos++;
    }
    if (p->pos >= p->len || digits == 0 || cp == 0 || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return perr(p, "bad character reference");
    p->pos++;
    put_utf8(b, cp);
    return AOS_OK;
}

/* Text up to the next '<' (entities decoded), appended to b. */
static aos_result parse_text(xml_parser_t *p, aos_buf_t *b)
{
    while (p->pos < p->len && p->s[p->pos] != '<') {
        if (p->s[p->pos] == '&') {
            AOS_RETURN_IF_FAILED(parse_entity(p, b));
            continue;
        }
        size_t start = p->pos;
        while (p->pos < p->len && p->s[p->pos] != '<' && p->s[p->pos] != '&')
            p->pos++;
        AOS_RETURN_IF_FAILED(aos_buf_append(b, p->s + start, p->pos - start));
    }
    return AOS_OK;
}

static aos_result parse_name(xml_parser_t *p, char **out)
{
    size_t start = p->pos;
    while (p->pos < p->len && is_name_char(p->s[p->pos]))
        p->pos++;
    if (p->pos == start)
        return perr(p, "expected a name");
    *out = strndup(p->s + start, p->pos - start);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

/* After the element name: attributes up to '>' or "/>". */
static aos_result skip_attributes(xml_parser_t *p, bool *self_closing)
{
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len)
            return perr(p, "unterminated tag");
        char c = p->s[p->pos];
        if (c == '>') {
            p->pos++;
            *self_closing = false;
            return AOS_OK;
        }
        if (starts(p, "/>")) {
            p->pos += 2;
            *self_closing = true;
            return AOS_OK;
        }
        char *name;
        AOS_RETURN_IF_FAILED(parse_name(p, &name));
        free(name);
        skip_space(p);
        if (p->pos >= p->len || p->s[p->pos] != '=')
            return perr(p, "expected '=' in attribute");
        p->pos++;
        skip_space(p);
        if (p->pos >= p->len || (p->s[p->pos] != '"' && p->s[p->pos] != '\''))
            return perr(p, "expected quoted attribute value");
        char q = p->s[p->pos++];
        const char *end = memchr(p->s + p->pos, q, p->len - p->pos);
        if (!end)
            return perr(p, "unterminated attribute value");
        p->pos = (size_t)(end - p->s) + 1;
    }
}

static aos_result parse_element(xml_parser_t *p, int depth, aos_xml_node_t **out);

/* Children and text of an open element until its end tag. */
static aos_result parse_content(xml_parser_t *p, int depth, aos_xml_node_t *n)
{
    aos_buf_t text = {0};
    aos_xml_node_t **tail = &n->first_child;
    aos_result r = AOS_OK;
    for (;;) {
        r = parse_text(p, &text);
        if (r != AOS_OK)
            break;
        if (p->pos >= p->len) {
            r = perr(p, "unterminated element");
            break;
        }
        if (starts(p, "</")) {
            p->pos += 2;
            char *name = NULL;
            r = parse_name(p, &name);
            if (r == AOS_OK && strcmp(name, n->name) != 0)
                r = perr(p, "mismatched end tag");
            free(name);
            skip_space(p);
            if (r == AOS_OK && (p->pos >= p->len || p->s[p->pos++] != '>'))
                r = perr(p, "bad end tag");
            break;
        }
        if (starts(p, "<!--")) {
            if (!skip_past(p, "-->"))
                r = perr(p, "unterminated comment");
        } else if (starts(p, "<![CDATA[")) {
            p->pos += 9;
            size_t start = p->pos;
            if (!skip_past(p, "]]>"))
                r = perr(p, "unterminated CDATA");
            else
                r = aos_buf_append(&text, p->s + start, p->pos - 3 - start);
        } else if (starts(p, "<?")) {
            if (!skip_past(p, "?>"))
                r = perr(p, "unterminated processing instruction");
        } else {
            r = parse_element(p, depth + 1, tail);
            if (r == AOS_OK)
                tail = &(*tail)->next;
        }
        if (r != AOS_OK)
            break;
    }
    if (r == AOS_OK && text.failed)
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        n->text = text.data ? text.data : strdup("");
        if (!n->text)
            r = AOS_ERR_NOMEM;
    } else {
        aos_buf_free(&text);
    }
    return r;
}

/* At '<' of a start tag. */
static aos_result parse_element(xml_parser_t *p, int depth, aos_xml_node_t **out)
{
    if (depth > XML_MAX_DEPTH)
        return perr(p, "nested too deeply");
    if (++p->nodes > XML_MAX_NODES)
        return perr(p, "too many elements");
    p->pos++;
    aos_xml_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return AOS_ERR_NOMEM;
    *out = n; /* linked first so the caller frees it on failure */
    AOS_RETURN_IF_FAILED(parse_name(p, &n->name));
    bool self_closing = false;
    AOS_RETURN_IF_FAILED(skip_attributes(p, &self_closing));
    if (self_closing) {
        n->text = strdup("");
        return n->text ? AOS_OK : AOS_ERR_NOMEM;
    }
    return parse_content(p, depth, n);
}

/* Skip the prolog: BOM, whitespace, <?xml ...?>, comments, a DOCTYPE without subset. */
static aos_result skip_misc(xml_parser_t *p)
{
    if (starts(p, "\xEF\xBB\xBF"))
        p->pos += 3;
    for (;;) {
        skip_space(p);
        if (starts(p, "<?")) {
            if (!skip_past(p, "?>"))
                return perr(p, "unterminated declaration");
        } else if (starts(p, "<!--")) {
            if (!skip_past(p, "-->"))
                return perr(p, "unterminated comment");
        } else if (starts(p, "<!DOCTYPE")) {
            if (!skip_past(p, ">"))
                return perr(p, "unterminated DOCTYPE");
        } else {
            return AOS_OK;
        }
    }
}

aos_result aos_xml_parse(const char *xml, size_t len, aos_xml_node_t **out_root, char *errbuf,
                         size_t errlen)
{
    *out_root = NULL;
    xml_parser_t p = {.s = xml, .len = len, .errbuf = errbuf, .errlen = errlen};
    AOS_RETURN_IF_FAILED(skip_misc(&p));
    if (p.pos >= p.len || p.s[p.pos] != '<')
        return perr(&p, "expected the root element");
    aos_xml_node_t *root = NULL;
    aos_result r = parse_element(&p, 0, &root);
    if (r == AOS_OK) {
        r = skip_misc(&p);
        if (r == AOS_OK && p.pos != p.len)
            r = perr(&p, "content after the root element");
    }
    if (r != AOS_OK) {
        aos_xml_free(root);
        return r;
    }
    *out_root = root;
    return AOS_OK;
}

aos_xml_node_t *aos_xml_child(const aos_xml_node_t *n, const char *name)
{
    for (aos_xml_node_t *c = n ? n->first_child : NULL; c; c = c->next)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

const char *aos_xml_child_text(const aos_xml_node_t *n, const char *name)
{
    aos_xml_node_t *c = aos_xml_child(n, name);
    return c ? c->text : NULL;
}
