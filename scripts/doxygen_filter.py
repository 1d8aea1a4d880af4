#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for the project's headers (docs/Doxyfile, scripts/docs.sh).

The headers are documented with plain // comments, the project's style: a block at the top of
each file (its manual) and a comment above, or after, each declaration. Rather than rewriting
them all for Doxygen, this filter shows Doxygen a documented version of each header on the fly;
the sources stay as they are. Line numbers are kept (each line maps to one line), so Doxygen's
"defined at line N" and its warnings point at the real lines.

  * The top-of-file // block becomes the file's documentation: /** \\file <path> \\brief <first
    sentence> \\details \\verbatim <the block as written> \\endverbatim */ — verbatim, so the
    block's tables, diagrams and examples keep their layout.
  * A run of // lines directly above a declaration (at namespace or class scope, not inside a
    function body) becomes ///, and a trailing "decl;  // text" becomes ///< (continuation
    lines of a trailing comment, aligned under it, too). Section markers ("// ---- x ----")
    stay plain comments.
  * Comment text handed to Doxygen is escaped: \\ @ & $ # < > % (Doxygen commands, HTML tags and
    entities, links) and a :: that follows no name (a link request) are preceded by a backslash,
    except inside "quoted strings", which Doxygen shows as written. The comments are plain text,
    not Markdown: docs/Doxyfile turns Markdown off (`x` stays `x`, and a \\verbatim block is
    left alone).

Usage (by Doxygen, through doxygen_filter.sh): doxygen_filter.py <header>; writes the filtered
text to stdout. doxygen_filter.py --cache DIR <header>...: filters them all in one process into
DIR/<path> (a Python start per header costs more than Doxygen's whole run: scripts/docs.sh).
"""
import os
import re
import sys

SPECIAL = set('\\@&$#<>%')
MARKER = re.compile(r'^\s*//\s*-{2,}.*-{2,}\s*$')
COMMENT_LINE = re.compile(r'^(\s*)//(?!/)(.*)$')
SCOPE_HEAD = re.compile(r'\b(class|struct|union|enum|namespace)\b|extern\s+"C"')
FUNCTION_END = re.compile(r'\)\s*(const|noexcept|override|final|mutable|->\s*[\w:<>,\s]+|\s)*$')
ACCESS = re.compile(r'^\s*(public|private|protected)\s*:')


def escape_block(texts):
    """Escapes a comment block's lines. Doxygen shows a "quoted string" as written (escapes
    included), so nothing inside one is escaped — when the block's quotes pair up (a quote may
    span lines)."""
    quotes_pair = sum(t.count('"') for t in texts) % 2 == 0
    in_quote = False
    out = []
    for text in texts:
        line = []
        for i, ch in enumerate(text):
            if ch == '"' and quotes_pair:
                in_quote = not in_quote
                line.append(ch)
            elif in_quote:
                line.append(ch)
            elif ch in SPECIAL:
                line.append('\\' + ch)
            elif (ch == ':' and text.startswith('::', i)
                  and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in '_:'))):
                line.append('\\:')  # "<T>::member": \:: , not a link request to ::member
            else:
                line.append(ch)
        out.append(''.join(line))
    return out


def split_code_comment(line):
    """Splits a line into (code, comment or None), ignoring // inside string/char literals."""
    i, n, quote = 0, len(line), None
    while i < n:
        c = line[i]
        if quote:
            if c == '\\':
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in '"\'':
            # A digit separator (64'000) is not a character literal.
            if c == "'" and i > 0 and line[i - 1].isalnum() and i + 1 < n and line[i + 1].isalnum():
                pass
            else:
                quote = c
        elif line.startswith('//', i):
            return line[:i], line[i + 2:]
        i += 1
    return line, None


def strip_literals(code):
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    code = re.sub(r"(?<![0-9A-Za-z])'(\\.|[^'\\])'", "''", code)
    return code


def file_block(path, lines):
    """The /** \\file */ block for the top-of-file comment `lines` (each starting with //)."""
    texts = [l[2:] if l.startswith('//') else l for l in lines]
    texts = [t[1:] if t.startswith(' ') else t for t in texts]
    # The brief: the first sentence (up to ". " or the first blank line), as prose.
    prose = []
    for t in texts:
        if not t.strip():
            break
        prose.append(t.strip())
    sentence = ' '.join(prose)
    # "dispatcher.h — Dispatcher: ..." → "Dispatcher: ..." (the page is already the file's).
    sentence = re.sub(r'^[\w.]+\.h\s+—\s+', '', sentence)
    m = re.search(r'\.(\s|$)', sentence)
    if m:
        sentence = sentence[:m.start() + 1]
    brief = escape_block([sentence])[0]
    safe = [t.replace('*/', '* /').replace('\\endverbatim', '\\ endverbatim') for t in texts]
    out = [f'/** \\file {path} \\brief {brief} \\details \\verbatim {safe[0]}']
    out += safe[1:]
    out[-1] += ' \\endverbatim */'
    return out


def filter_text(path, text):
    lines = text.split('\n')
    out = list(lines)
    i = 0
    # The top-of-file block.
    while i < len(lines) and lines[i].startswith('//'):
        i += 1
    if i:
        out[:i] = file_block(path, lines[:i])

    stack = []        # 'scope' | 'enum' | 'body', one per open brace
    head = ''         # code since the last ; { or }
    pending = []      # indices of a run of comment lines not yet placed
    trailing_col = None  # column of the last trailing // comment that became ///<

    def in_body():
        return 'body' in stack

    def flush(next_code):
        """Places the pending comment run: doc (///) when next_code starts a declaration."""
        nonlocal pending
        run = [k for k in pending if not MARKER.match(lines[k])]
        stripped = next_code.strip()
        declaration = (not in_body() and stripped and not stripped.startswith(('#', '}'))
                       and not ACCESS.match(next_code))
        if declaration and run and run[-1] == pending[-1] and run == list(range(run[0], run[-1] + 1)):
            texts = [COMMENT_LINE.match(lines[k]).group(2) for k in run]
            for k, t in zip(run, escape_block(texts)):
                indent = COMMENT_LINE.match(lines[k]).group(1)
                out[k] = f'{indent}///{t}'
        pending = []

    for k in range(i, len(lines)):
        line = lines[k]
        m = COMMENT_LINE.match(line)
        if m:
            col = len(m.group(1))
            if trailing_col is not None and col == trailing_col and not pending:
                # Continuation of the trailing comment above, aligned under it.
                out[k] = f'{m.group(1)}///<{escape_block([m.group(2)])[0]}'
                continue
            trailing_col = None
            pending.append(k)
            continue
        if not line.strip():
            pending = []
            trailing_col = None
            continue
        code, comment = split_code_comment(line)
        if code.lstrip().startswith('#'):
            pending = []
            trailing_col = None
            continue
        flush(code)
        trailing_col = None
        # A trailing comment documents the member it ends, at class/namespace/enum scope.
        if comment is not None and not comment.startswith('/') and not in_body():
            c = code.rstrip()
            s = c.strip()
            enum = bool(stack) and stack[-1] == 'enum'
            member = (s and not s.startswith('}') and not ACCESS.match(c)
                      and (c.endswith(';') or (c.endswith('}') and '{' in s)
                           or (enum and (c.endswith(',') or re.fullmatch(r'\w+(\s*=.*)?', s)))))
            if member:
                out[k] = f'{code}///<{escape_block([comment])[0]}'
                trailing_col = len(code)
        # Track the braces.
        for ch in strip_literals(code):
            if ch == '{':
                if in_body():
                    stack.append('body')
                elif re.search(r'\benum\b', head):
                    stack.append('enum')
                elif SCOPE_HEAD.search(re.sub(r'template\s*<.*?>', '', head)) \
                        and '=' not in head and not FUNCTION_END.search(head):
                    stack.append('scope')
                else:
                    stack.append('body')
                head = ''
            elif ch == '}':
                if stack:
                    stack.pop()
                head = ''
            elif ch == ';':
                head = ''
            else:
                head += ch
        head += ' '
    return '\n'.join(out)


def filtered(path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rel = os.path.relpath(os.path.abspath(path), root)
    with open(path, encoding='utf-8') as f:
        return rel, filter_text(rel, f.read())


def main():
    if sys.argv[1] == '--cache':
        # doxygen_filter.py --cache DIR HEADER...: writes each filtered header to DIR/<its path>,
        # in one process (scripts/docs.sh; scripts/doxygen_filter.sh then only reads them).
        for path in sys.argv[3:]:
            rel, text = filtered(path)
            out = os.path.join(sys.argv[2], rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, 'w', encoding='utf-8') as f:
                f.write(text)
        return
    sys.stdout.write(filtered(sys.argv[1])[1])


if __name__ == '__main__':
    main()
