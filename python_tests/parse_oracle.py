"""An independent pure-Python parser with the rules of verireward.parse, working on the Python str
itself (so its spans are str indices by construction, not converted from UTF-8 bytes)."""

from __future__ import annotations

from typing import List, Optional, Tuple

MAX_DEPTH = 32
WS = " \t\n\r"
ESC = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class Fail(Exception):
    pass


class P:
    def __init__(self, s: str, i: int):
        self.s, self.i = s, i

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in WS:
            self.i += 1

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, c):
        if self.peek() != c:
            raise Fail
        self.i += 1

    def string(self) -> str:
        q = self.peek()
        if q not in "\"'":
            raise Fail
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == q:
                return "".join(out)
            if c != "\\":
                out.append(c)
                continue
            if self.i >= len(self.s):
                raise Fail
            e = self.s[self.i]
            self.i += 1
            if e in ESC:
                out.append(ESC[e])
            elif e == "u":
                cp = self.hex4()
                if 0xD800 <= cp < 0xDC00 and self.s[self.i:self.i + 2] == "\\u":
                    save = self.i
                    self.i += 2
                    try:
                        lo = self.hex4()
                    except Fail:
                        lo = -1
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    else:
                        self.i = save
                out.append(chr(cp))
            else:
                raise Fail
        raise Fail

    def hex4(self) -> int:
        h = self.s[self.i:self.i + 4]
        if len(h) < 4 or any(c not in "0123456789abcdefABCDEF" for c in h):
            raise Fail
        self.i += 4
        return int(h, 16)

    def digits(self, j: int) -> int:
        """The index after the ASCII digits starting at j."""
        while j < len(self.s) and self.s[j].isascii() and self.s[j].isdigit():
            j += 1
        return j

    def number(self) -> Optional[float]:
        s, start = self.s, self.i
        j = start + 1 if start < len(s) and s[start] in "+-" else start
        k = self.digits(j)
        count = k - j
        if k < len(s) and s[k] == ".":
            e = self.digits(k + 1)
            count += e - k - 1
            k = e
        if count == 0:
            return None
        if k < len(s) and s[k] in "eE":
            m = k + 1 + (1 if k + 1 < len(s) and s[k + 1] in "+-" else 0)
            e = self.digits(m)
            if e > m:
                k = e
        self.i = k
        return float(s[start:k])

    def value(self, depth: int):
        if depth > MAX_DEPTH:
            raise Fail
        self.ws()
        c = self.peek()
        if c == "{":
            return self.obj(depth + 1)
        if c in "[(":
            return self.seq(depth + 1)
        if c in "\"'":
            return self.string()
        v = self.number()
        if v is not None:
            return v
        for w in ("true", "false", "null"):
            if self.s.startswith(w, self.i):
                self.i += len(w)
                return w
        raise Fail

    def seq(self, depth: int) -> list:
        if depth > MAX_DEPTH:
            raise Fail
        close = "]" if self.peek() == "[" else ")"
        self.i += 1
        items = []
        first = True
        while True:
            self.ws()
            if self.peek() == close:
                self.i += 1
                return items
            if not first:
                self.expect(",")
                self.ws()
                if self.peek() == close:
                    self.i += 1
                    return items
            first = False
            items.append(self.value(depth))

    def obj(self, depth: int) -> List[Tuple[str, int, int]]:
        if depth > MAX_DEPTH:
            raise Fail
        self.expect("{")
        pairs = []
        first = True
        while True:
            self.ws()
            if self.peek() == "}":
                self.i += 1
                return pairs
            if not first:
                self.expect(",")
                self.ws()
                if self.peek() == "}":
                    self.i += 1
                    return pairs
            first = False
            key = self.string()
            self.ws()
            self.expect(":")
            self.ws()
            b = self.i
            self.value(depth)
            pairs.append((key, b, self.i))


def numbers(v) -> Optional[List[float]]:
    """A flat list of numbers, or a list of equal-length lists of numbers, flattened; else None."""
    if not isinstance(v, list):
        return None
    if all(isinstance(x, float) for x in v):
        return list(v)
    if all(isinstance(x, list) for x in v):
        lens = {len(x) for x in v}
        if len(lens) == 1 and all(isinstance(y, float) for x in v for y in x):
            return [y for x in v for y in x]
    return None


def parse_one(text: str, fields):
    """fields: list of (keys, kind, dim, max_values, quantized, bins); kind 0 text, 1 box, 2 points.
    Returns [(valid, (start, end), numbers)] per field."""
    pairs = None
    for start, c in enumerate(text):
        if c != "{":
            continue
        p = P(text, start)
        try:
            pairs = p.obj(1)
            break
        except (Fail, RecursionError):
            continue
    out = []
    for keys, kind, dim, max_values, quantized, bins in fields:
        if pairs is None:
            out.append((False, (0, 0), []))
            continue
        hits = [pr for pr in pairs if pr[0] in keys]
        if len(hits) != 1:
            out.append((False, (0, 0), []))
            continue
        _, b, e = hits[0]
        nums: List[float] = []
        ok = True
        if kind != 0:
            v = P(text, b).value(1)
            flat = numbers(v)
            inner = len(v[0]) if flat is not None and v and isinstance(v[0], list) else None
            ok = flat is not None and (inner is None or inner == dim)
            if ok:
                ok = len(flat) == 2 * dim if kind == 1 else (0 < len(flat) and len(flat) % dim == 0 and len(flat) <= max_values)
            if ok:
                ok = all(abs(x) != float("inf") and (not quantized or (x == int(x) and 0 <= x <= bins)) for x in flat)
            nums = flat if ok else []
        out.append((ok, (b, e) if ok else (0, 0), nums))
    return out
