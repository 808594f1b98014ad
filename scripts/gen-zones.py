#!/usr/bin/env python3
"""Writes core/src/domain/zones.rs: every IANA zone name TIME_ZONE accepts,
with its local time from CUTOFF on (core/src/domain/zone.rs reads it).

Usage: scripts/gen-zones.py [TZ_SOURCE_DIR]

The source is the tz database text chrono-tz ships (its `tz/` directory,
found with `cargo metadata`), so the names and the rules are those of the
release the unit test compares against (chrono-tz, a dev-dependency).
`zic -b slim` compiles it; from each compiled (TZif) file this keeps the
footer, the POSIX TZ rule that holds after the file's last transition, and
the transitions after CUTOFF that come before it (a few zones list future
changes explicitly, e.g. Morocco's and Palestine's around Ramadan). Times
before CUTOFF take the offset in force at CUTOFF: the table is exact from
CUTOFF on, which is all a phone line's clock needs.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

# 2025-01-01T00:00:00Z.
CUTOFF = 1735689600
SOURCES = ["africa", "antarctica", "asia", "australasia", "backward", "etcetera",
           "europe", "northamerica", "southamerica"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "core/src/domain/zones.rs")
WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


def chrono_tz_sources():
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1"], cwd=ROOT))
    for package in meta["packages"]:
        if package["name"] == "chrono-tz":
            return os.path.join(os.path.dirname(package["manifest_path"]), "tz")
    sys.exit("gen-zones: chrono-tz is not in the dependency graph")


def read_tzif(path):
    """(transition times, their type indexes, types, abbreviation bytes, footer)."""
    data = open(path, "rb").read()
    assert data[:4] == b"TZif" and data[4] >= ord("2"), f"{path}: no version 2+ data"

    def counts(at):
        return struct.unpack(">6l", data[at + 20:at + 44])

    isut, isstd, leap, times, types, chars = counts(0)
    at = 44 + times * 5 + types * 6 + chars + leap * 8 + isstd + isut
    isut, isstd, leap, times, types, chars = counts(at)
    at += 44
    stamps = struct.unpack(f">{times}q", data[at:at + 8 * times])
    at += 8 * times
    indexes = data[at:at + times]
    at += times
    kinds = [struct.unpack(">lBB", data[at + 6 * i:at + 6 * i + 6]) for i in range(types)]
    at += 6 * types
    abbrs = data[at:at + chars]
    at += chars + leap * 12 + isstd + isut
    footer = data[at:].split(b"\n")[1].decode()
    return stamps, indexes, kinds, abbrs, footer


def local(offset, abbr):
    return f'Local {{ offset: {offset}, abbr: "{abbr}" }}'


def seconds(text):
    """`[+-]hh[:mm[:ss]]` as seconds."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    return sign * sum(p * 60 ** (2 - i) for i, p in enumerate(parts + [0] * (3 - len(parts))))


NAME = r"(<[^>]*>|[A-Za-z]+)"
OFFSET = r"([+-]?\d+(?::\d+){0,2})"
WHEN = r"M(\d+)\.(\d)\.(\d)(?:/([+-]?\d+(?::\d+){0,2}))?"
RULE = re.compile(rf"^{NAME}{OFFSET}(?:{NAME}{OFFSET}?,{WHEN},{WHEN})?$")


def rule(footer, path):
    """A POSIX TZ rule as core's `Rule`; only the `Mm.w.d` dates the database uses."""
    match = RULE.match(footer)
    assert match, f"{path}: footer {footer!r} is not read here"
    (std, std_off, dst, dst_off, *whens) = match.groups()
    # POSIX offsets are west of Greenwich; core's are east.
    std_offset = -seconds(std_off)
    text = f"Rule {{ std: {local(std_offset, std.strip('<>'))}, dst: "
    if dst is None:
        return text + "None }"
    dst_offset = -seconds(dst_off) if dst_off else std_offset + 3600

    def when(month, week, day, time):
        secs = seconds(time) if time else 7200
        return (f"When {{ month: {month}, week: {week}, weekday: Weekday::{WEEKDAYS[int(day)]}, "
                f"secs: {secs} }}")

    return (text + f"Some(Dst {{ local: {local(dst_offset, dst.strip('<>'))}, "
            f"start: {when(*whens[:4])}, end: {when(*whens[4:])} }}) }}")


def entry(name, path):
    stamps, indexes, kinds, abbrs, footer = read_tzif(path)
    assert footer, f"{path}: no footer, so no rule after its last transition"

    def kind(i):
        offset, _dst, at = kinds[i]
        return local(offset, abbrs[at:abbrs.index(b"\0", at)].decode())

    # The type in force at CUTOFF, then each explicit change after it; the
    # footer's rule from the last one on.
    before = [i for i, t in enumerate(stamps) if t <= CUTOFF]
    current = indexes[before[-1]] if before else 0
    changes = []
    for t, i in zip(stamps, indexes):
        if t > CUTOFF:
            changes.append(f"({t}, {kind(current)})")
            current = i
    return (f'    Entry {{ name: "{name}", changes: &[{", ".join(changes)}], '
            f"rule: {rule(footer, path)} }}, // {footer}")


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else chrono_tz_sources()
    version = open(os.path.join(source, "NEWS")).read().split("Release ", 1)[1].split()[0]
    with tempfile.TemporaryDirectory() as out:
        subprocess.check_call(["zic", "-b", "slim", "-d", out]
                              + [os.path.join(source, s) for s in SOURCES])
        names = sorted(os.path.relpath(os.path.join(d, f), out)
                       for d, _, files in os.walk(out) for f in files)
        lines = [entry(n, os.path.join(out, n)) for n in names]
    with open(OUT, "w") as f:
        f.write(f"""// @generated by scripts/gen-zones.py from tzdata {version}; do not edit.
// One entry per name, sorted by name; each line ends with the zone's POSIX TZ rule.

use chrono::Weekday;

use super::zone::{{Dst, Entry, Local, Rule, When}};

/// The index of `UTC`.
pub(super) const UTC: usize = {names.index("UTC")};

#[rustfmt::skip]
pub(super) static ZONES: [Entry; {len(lines)}] = [
{chr(10).join(lines)}
];
""")


if __name__ == "__main__":
    main()
