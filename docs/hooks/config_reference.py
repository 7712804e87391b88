"""mkdocs hook: the configuration reference, generated from ``conf/`` at build time.

``reference/config.md`` holds a marker line, ``<!-- config-reference -->``. On that page the hook
replaces it with tables built from the YAML files in ``conf/``: the keys of ``conf/config.yaml``
and then every config group folder ``conf/<group>/*.yaml`` with its options and their keys. The
descriptions are the files' own ``#`` comments, so the reference cannot drift from the defaults.

The reader is line-based on purpose (``key: value  # comment``, nesting by indentation): a YAML
parser drops comments. It imports nothing of alphalab, TensorFlow or Hydra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "<!-- config-reference -->"
PAGE = "reference/config.md"
CONF = Path(__file__).resolve().parents[2] / "conf"

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.\-/]*|'[^']*'|\"[^\"]*\"):(?P<rest>.*)$")
ITEM = re.compile(r"^(?P<indent> *)- (?P<body>.*)$")
COMMENT = re.compile(r"^(?P<indent> *)#(?P<text>.*)$")
OPTIONAL_ORDER = ["sweep", "search", "debug"]  # the optional groups, most used first
# an option's identity: a comment right above one of these describes the whole file
OWN_KEYS = ("name", "algorithm", "defaults")


@dataclass
class Entry:
    """One key of a YAML file: its dotted name, its value as written and its comment."""

    key: str
    value: str
    comment: list[str] = field(default_factory=list)
    comment_column: int = -1  # where its inline comment starts (continuation lines align there)


@dataclass
class ConfigFile:
    """What the reference shows of one YAML file."""

    header: list[str]  # the comment block at the top: what the file is for
    entries: list[Entry]  # every key outside the ``hydra:`` section, parents included
    defaults: list[Entry]  # the ``defaults:`` list, as ``group: option`` entries
    swept: list[Entry]  # ``hydra.sweeper.params``: the values a sweep runs over
    global_package: bool  # ``# @package _global_``: its keys land at the top level


def split_comment(text: str) -> tuple[str, str, int]:
    """``value  # comment`` -> (value, comment, column of '#'); a '#' inside quotes or braces
    that is not preceded by a space is part of the value."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].strip(), text[i + 1 :].strip(), i
    return text.strip(), "", -1


def read(path: Path) -> ConfigFile:
    """Read one YAML file's keys, defaults, swept values and comments, line by line."""
    lines = path.read_text().splitlines()
    header: list[str] = []
    start = 0
    global_package = False
    for start, line in enumerate(lines):  # noqa: B007 - start is read after the loop
        match = COMMENT.match(line)
        if not match:
            break
        text = match["text"].strip()
        if text.startswith("@package"):
            global_package = "_global_" in text
            continue
        header.append(text)
    else:
        start = len(lines)
    # The top comment block describes the file (the option), except when it sits right on an
    # ordinary key with a value: then it documents that key and is read again below.
    first = KEY.match(lines[start]) if start < len(lines) else None
    if first and first["key"] not in OWN_KEYS and split_comment(first["rest"])[0]:
        header, start = [], 0

    entries: list[Entry] = []
    defaults: list[Entry] = []
    swept: list[Entry] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the open mappings
    pending: list[str] = []  # comment lines above the next key
    last: Entry | None = None  # the previous key, for comment lines continuing its comment
    block_indent: int | None = None  # inside a multi-line string (``key: |``)
    for line in lines[start:]:
        if block_indent is not None:
            if not line.strip() or len(line) - len(line.lstrip()) > block_indent:
                continue
            block_indent = None
        if not line.strip():
            pending, last = [], None
            continue
        comment = COMMENT.match(line)
        if comment:
            text = comment["text"].strip()
            column = len(comment["indent"])
            if last is not None and last.comment_column >= 0 and column == last.comment_column:
                last.comment.append(text)
            elif not text.startswith("@package"):
                pending.append(text)
                last = None
            continue
        item = ITEM.match(line)
        if item:
            indent = len(item["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = [key for _, key in stack]
            body, text, column = split_comment(item["body"])
            if path == ["defaults"] and body != "_self_":
                group, _, option = body.partition(":")
                entry = Entry(group.strip(), option.strip(), pending + ([text] if text else []))
                entry.comment_column = len(item["indent"]) + 2 + column if column >= 0 else -1
                defaults.append(entry)
                last = entry
            else:
                last = None
            pending = []
            continue
        match = KEY.match(line)
        if not match:
            pending, last = [], None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match["key"].strip("'\"")
        value, text, column = split_comment(match["rest"])
        path = [name for _, name in stack] + [key]
        if value in ("|", ">", "|-", ">-"):
            block_indent = indent
        if not value or value in ("|", ">", "|-", ">-"):
            stack.append((indent, key))
        entry = Entry(".".join(path), value, pending + ([text] if text else []))
        if column >= 0:
            entry.comment_column = len(match["indent"]) + len(match["key"]) + 1 + column
        pending, last = [], entry
        if path[0] == "hydra":
            if path[:3] == ["hydra", "sweeper", "params"] and len(path) > 3 and value:
                swept.append(Entry(".".join(path[3:]), value, entry.comment))
                last = swept[-1]
                swept[-1].comment_column = entry.comment_column
            continue
        if path[0] == "defaults":
            continue
        entries.append(entry)
    return ConfigFile(header, entries, defaults, swept, global_package)


COMMAND = re.compile(r"python -m [\w.]+(?: +[+~\w\-][^\s()]*)*")
ASSIGNMENT = re.compile(r"(?<![\w`])[+~]?[A-Za-z_][\w./]*=[^\s;()`]*[^\s,;()`.:]")


def inline(text: str) -> str:
    """A comment as table-safe Markdown: commands and ``key=value`` become code spans, code
    spans are kept, everything else is escaped."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # the text outside code spans
        found = COMMAND.sub(lambda m: "\0" + m[0] + "\0", parts[i])
        pieces = found.split("\0")
        for j in range(0, len(pieces), 2):
            pieces[j] = ASSIGNMENT.sub(lambda m: "\0" + m[0] + "\0", pieces[j])
        marked = "\0".join(pieces).split("\0")
        for j in range(0, len(marked), 2):
            plain = marked[j].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            marked[j] = re.sub(r"([\\*_|\[\]])", r"\\\1", plain)
        for j in range(1, len(marked), 2):
            marked[j] = "`" + marked[j].replace("|", "\\|") + "`"
        parts[i] = "".join(marked)
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("|", "\\|")
    return "`".join(parts) if len(parts) % 2 else "`".join(parts) + "`"


def paragraphs(comment: list[str]) -> list[str]:
    """A file's header comment as Markdown paragraphs: its first line on its own (a title,
    often with the command), the rest joined, a bare ``#`` line starting a new paragraph."""
    out: list[str] = []
    if not comment:
        return out
    out += [inline(comment[0]), ""]
    block: list[str] = []
    for line in [*comment[1:], ""]:
        if line:
            block.append(line)
        elif block:
            out += [inline(" ".join(block)), ""]
            block = []
    return out


def summary(comment: list[str]) -> str:
    """The first line of a file's header, for the table of a group's options."""
    return inline(comment[0].rstrip(":")) if comment else ""


def code(value: str) -> str:
    """A value as a code span (``???``: required, no default)."""
    if value == "???":
        return "required (`???`)"
    if not value:
        return ""
    return "`" + value.replace("|", "\\|") + "`"


def describe(comment: list[str]) -> str:
    """Comment lines joined into one table cell."""
    return inline(" ".join(line for line in comment if line))


def key_table(entries: list[Entry], prefix: str) -> list[str]:
    """``| key | default | meaning |`` rows; a mapping shows as a row only when commented."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for entry in entries:
        if not entry.value and not entry.comment:
            continue
        value = "" if not entry.value else code(entry.value)
        rows.append(f"| `{prefix}{entry.key}` | {value} | {describe(entry.comment)} |")
    return rows if len(rows) > 2 else []


def main_config(conf: Path) -> tuple[list[str], list[Entry]]:
    """``conf/config.yaml``: the groups it chooses and its own keys."""
    top = read(conf / "config.yaml")
    out = ["## `conf/config.yaml`", ""]
    if top.header:
        out += paragraphs(top.header)
    groups = [d for d in top.defaults if not d.key.startswith("override ")]
    if groups:
        out += ["Config groups chosen by default (`GROUP=OPTION` replaces the option):", ""]
        out += ["| group | default | meaning |", "|---|---|---|"]
        for d in groups:
            out.append(f"| [`{d.key}`](#group-{d.key}) | {code(d.value)} | {describe(d.comment)} |")
        out.append("")
    out += ["Keys (`KEY=VALUE` on the command line):", ""]
    out += key_table(top.entries, "")
    return out + [""], groups


def group_section(folder: Path, default: str | None) -> list[str]:
    """One config group: its options, and each option's keys."""
    group = folder.name
    options = sorted(folder.glob("*.yaml"))
    how = f"`{group}=OPTION`" if default else f"`+{group}=OPTION` (optional)"
    out = [f"## `{group}` {{#group-{group}}}", ""]
    line = f"Chosen with {how}"
    out += [line + (f"; default `{default}`." if default else "."), ""]
    out += ["| option | what it is |", "|---|---|"]
    files = {path.stem: read(path) for path in options}
    for name, parsed in files.items():
        out.append(f"| [`{name}`](#{group}-{name}) | {summary(parsed.header)} |")
    out.append("")
    for name, parsed in files.items():
        out += [f"### `{group}={name}` {{#{group}-{name}}}", ""]
        where = " (keys at the top level)." if parsed.global_package else "."
        out += [f"File: `conf/{group}/{name}.yaml`{where}", ""]
        out += paragraphs(parsed.header)
        if parsed.defaults:
            uses = ", ".join(
                f"`{d.key}{': ' + d.value if d.value else ''}`"
                + (f" ({inline(' '.join(d.comment))})" if d.comment else "")
                for d in parsed.defaults
            )
            out += [f"Builds on: {uses}.", ""]
        table = key_table(parsed.entries, "" if parsed.global_package else f"{group}.")
        out += table + ([""] if table else [])
        if parsed.swept:
            out += ["Swept (each combination is one job):", ""]
            out += ["| key | values | meaning |", "|---|---|---|"]
            for entry in parsed.swept:
                out.append(f"| `{entry.key}` | {code(entry.value)} | {describe(entry.comment)} |")
            out.append("")
        if not table and not parsed.swept and not parsed.header:
            out += ["(no keys of its own)", ""]
    return out


def reference(conf: Path = CONF) -> str:
    """The whole generated reference, as Markdown."""
    out, groups = main_config(conf)
    chosen = {d.key: d.value for d in groups}
    folders = [conf / g for g in chosen if (conf / g).is_dir()]
    others = [p for p in conf.iterdir() if p.is_dir() and p.name not in chosen]
    rank = {name: i for i, name in enumerate(OPTIONAL_ORDER)}
    folders += sorted(others, key=lambda p: (rank.get(p.name, len(rank)), p.name))
    for folder in folders:
        if folder.name == "hydra":
            continue
        out += group_section(folder, chosen.get(folder.name))
    return "\n".join(out).rstrip() + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs' API
    """Replace the marker line of the configuration reference page with the tables."""
    if page.file.src_uri != PAGE or MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference(), 1)


if __name__ == "__main__":  # print the reference: python docs/hooks/config_reference.py
    print(reference())
